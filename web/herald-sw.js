/*
 * Herald's service worker: shows each push as a notification and opens its link on a click.
 *
 * One code path for every source of messages:
 *   - real FCM: the browser's push service wakes this worker with a `push` event whose data is
 *     FCM's web push payload (no Firebase SDK is needed in the worker);
 *   - the FCM emulator: the page holding the emulator's stream posts each payload here as a
 *     `herald:push` message.
 * Both go through deliver(): a system notification (title, body, icon, image), and a
 * `herald:message` post to every open window of the app, so a page in front can show it too.
 *
 * Register it at the root of the app (its scope decides which pages it controls), optionally
 * with a default icon: navigator.serviceWorker.register("/herald-sw.js?icon=/icon.png").
 * An app with a worker of its own can importScripts("/herald-sw.js") from it.
 */

const DEFAULT_ICON = new URL(self.location.href).searchParams.get("icon") || "";
const NO_COLLAPSE = "do_not_collapse";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const raw = readPushData(event.data);
  if (raw) event.waitUntil(deliver(raw));
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "herald:push") event.waitUntil(deliver(event.data.payload));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const link = event.notification.data && event.notification.data.link;
  event.waitUntil(openLink(link));
});

function readPushData(data) {
  if (!data) return null;
  try {
    return data.json();
  } catch {
    return null;
  }
}

/*
 * One shape for both payloads: the Firebase JS SDK's MessagePayload (emulator stream:
 * notification, data, fcmOptions.link, messageId, collapseKey) and FCM's raw web push data
 * (notification.click_action, fcmOptions.link, fcmMessageId, collapse_key). A `link` in the
 * data counts too: FCM only takes https links, which a page on http://127.0.0.1 cannot use.
 */
function normalize(raw) {
  const notification = raw.notification || {};
  const data = raw.data && typeof raw.data === "object" ? raw.data : {};
  const fcmOptions = raw.fcmOptions || {};
  const link = fcmOptions.link || notification.click_action || data.link || "";
  return {
    title: notification.title || "",
    body: notification.body || "",
    icon: notification.icon || DEFAULT_ICON,
    image: notification.image || "",
    link: link ? new URL(link, self.registration.scope).href : "",
    data,
    tag: notification.tag || "",
    messageId: raw.messageId || raw.fcmMessageId || "",
    collapseKey: raw.collapseKey || raw.collapse_key || NO_COLLAPSE,
  };
}

async function deliver(raw) {
  const message = normalize(raw);
  if (message.title) {
    const options = {
      body: message.body,
      data: { link: message.link, messageId: message.messageId, data: message.data },
    };
    if (message.icon) options.icon = message.icon;
    if (message.image) options.image = message.image;
    // A notification replaces the one shown under the same tag (Herald sets it, and the web
    // push Topic, from the collapse key, else the notification's id: a resend after a crash
    // replaces, it does not show twice); else the collapse key; else one per message.
    if (message.tag) options.tag = message.tag;
    else if (message.collapseKey !== NO_COLLAPSE) options.tag = message.collapseKey;
    else if (message.messageId) options.tag = message.messageId;
    await self.registration.showNotification(message.title, options);
  }
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) client.postMessage({ type: "herald:message", message });
}

/* Focus a window already showing the link, else open it (the app's start page without one). */
async function openLink(link) {
  const url = link || self.registration.scope;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => client.url === url);
  if (open) return open.focus();
  return self.clients.openWindow(url);
}
