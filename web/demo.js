/*
 * The demo page. The server behind it (herald-run) plays the product's backend: /dev/session
 * signs in any user name (development only), /dev/reminders schedules through the token-api's
 * service endpoints, /dev/deliveries streams the user's delivery reports.
 */
import { EmulatorMessaging } from "./emulator-messaging.js";
import { HeraldPush } from "./herald-push.js";

const SESSION_KEY = "herald-demo.session";
const TOAST_MS = 6000;
const $ = (selector) => document.querySelector(selector);

const config = await (await fetch("/config.json")).json();
let session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
let feed = null;
let toastTimer = null;

const push = new HeraldPush({
  apiBase: config.apiBase,
  getAuthToken: () => session && session.token,
  messaging: new EmulatorMessaging({ url: config.emulator.url, projectId: config.emulator.projectId }),
  serviceWorkerUrl: "/herald-sw.js?icon=/icon.png",
});

const PERMISSION_HELP = {
  default: "Herald asks only when you press the button.",
  denied: "Notifications are blocked for this site: allow them in the browser's site settings, then reload.",
  granted: "",
};

function renderPermission() {
  const permission = push.permission;
  $("#permission").textContent = permission;
  $("#permission-help").textContent = PERMISSION_HELP[permission] || "";
  $("#permission-help").hidden = !PERMISSION_HELP[permission];
  $("#enable").hidden = permission !== "default";
}

push.addEventListener("status", ({ detail }) => {
  const text = detail.state === "registered" ? `registered (id ${detail.detail})` : detail.state;
  $("#push-status").textContent = detail.detail && detail.state !== "registered" ? `${text}: ${detail.detail}` : text;
  $("#push-status").dataset.state = detail.state;
  renderPermission();
});

push.addEventListener("message", ({ detail }) => {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${detail.title}: ${detail.body}`;
  $("#received").prepend(item);
  $("#toast-title").textContent = detail.title;
  $("#toast-body").textContent = detail.body;
  $("#toast-icon").src = detail.icon || "/icon.png";
  $("#toast").hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => ($("#toast").hidden = true), TOAST_MS);
});

async function dev(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((parsed && parsed.detail) || `${path} answered ${response.status}`);
  return parsed;
}

function renderSession() {
  $("#sign-in-form").hidden = Boolean(session);
  $("#signed-in").hidden = !session;
  $("#user-name").textContent = session ? session.user : "";
  for (const section of document.querySelectorAll(".needs-session")) section.hidden = !session;
}

async function renderReminders() {
  const { reminders } = await dev("GET", "/dev/reminders");
  const list = $("#reminders");
  list.replaceChildren();
  for (const reminder of reminders) {
    const item = document.createElement("li");
    item.dataset.reminderId = reminder.reminder_id;
    const when = new Date(reminder.fire_at).toLocaleString();
    item.textContent = `${reminder.what}, ${reminder.recurring ? "next" : "at"} ${when} `;
    const cancel = document.createElement("button");
    cancel.textContent = "Cancel";
    cancel.onclick = async () => {
      await dev("DELETE", `/dev/reminders/${reminder.reminder_id}`);
      await renderReminders();
    };
    item.append(cancel);
    list.append(item);
  }
}

function openFeed() {
  feed = new EventSource(`/dev/deliveries?access_token=${encodeURIComponent(session.token)}`);
  feed.addEventListener("delivery", (event) => {
    const report = JSON.parse(event.data);
    const item = document.createElement("li");
    item.dataset.status = report.status;
    const time = new Date(report.at).toLocaleTimeString();
    const error = report.error ? ` ${report.error}` : "";
    item.textContent = `${time} ${report.status} → ${report.target || "no target"} (${report.latency_ms} ms after due, attempt ${report.attempts})${error}`;
    $("#deliveries").prepend(item);
    renderReminders().catch(() => {});
  });
}

async function signIn(user) {
  session = await dev("POST", "/dev/session", { user });
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  renderSession();
  openFeed();
  await Promise.all([push.signIn(), renderReminders()]);
}

async function signOut() {
  await push.signOut();
  if (feed) feed.close();
  session = null;
  localStorage.removeItem(SESSION_KEY);
  $("#deliveries").replaceChildren();
  $("#devices").hidden = true;
  renderSession();
}

async function listDevices() {
  const rows = $("#devices tbody");
  rows.replaceChildren();
  for (const device of await push.devices()) {
    const row = rows.insertRow();
    row.dataset.targetId = device.id;
    row.insertCell().textContent = device.device_label || device.user_agent;
    row.insertCell().textContent = device.masked;
    row.insertCell().textContent = new Date(device.last_seen_at).toLocaleString();
    row.insertCell().textContent = device.current ? "this browser" : "";
  }
  $("#devices").hidden = false;
}

function showOpenedFrom() {
  const reminder = new URLSearchParams(location.search).get("reminder");
  if (reminder) {
    $("#opened").textContent = `Opened from the notification of reminder ${reminder}.`;
    $("#opened").hidden = false;
  }
}

const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
$("#time-zone").textContent = timeZone;
$("#sign-in-form").onsubmit = (event) => {
  event.preventDefault();
  signIn($("#user").value.trim()).catch(alert);
};
$("#sign-out").onclick = () => signOut().catch(alert);
$("#enable").onclick = () => push.requestPermission().catch(alert);
$("#notify-timer").onclick = () =>
  dev("POST", "/dev/reminders", { kind: "timer", seconds: Number($("#timer-seconds").value) })
    .then(renderReminders)
    .catch(alert);
$("#notify-daily").onclick = () =>
  dev("POST", "/dev/reminders", { kind: "daily", time: $("#daily-time").value, time_zone: timeZone })
    .then(renderReminders)
    .catch(alert);
$("#list-devices").onclick = () => listDevices().catch(alert);

showOpenedFrom();
renderSession();
renderPermission();
if (session) {
  openFeed();
  renderReminders().catch(() => signOut());
}
await push.start();
