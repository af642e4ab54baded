/*
 * Herald's browser client: keeps this browser's push target registered with the token-api for
 * the signed-in user. Framework-free, no build step:
 *
 *   import { HeraldPush } from "./herald-push.js";
 *   import { EmulatorMessaging } from "./emulator-messaging.js"; // or FirebaseMessaging
 *
 *   const push = new HeraldPush({ apiBase, getAuthToken, messaging });
 *   await push.start();                  // on every app load: never prompts
 *   button.onclick = () => push.requestPermission();   // only from a user gesture
 *   await push.signIn();                 // after login
 *   await push.signOut();                // before the session is dropped
 *   push.addEventListener("message", (e) => show(e.detail));   // messages while the page is open
 *   push.addEventListener("status", (e) => render(e.detail));  // {state, detail}
 *
 * States: unsupported, signed-out, needs-permission, denied, registering, registered, error.
 */

const REGISTERED_KEY = "herald.registered-target";
const DAY_MS = 24 * 3600 * 1000;

/* The token-api's id of a target: the first 32 hex digits of its SHA-256. */
export async function targetId(value) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, 32);
}

export class HeraldApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `token-api answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/* A short label for the device list, such as "Chrome on Linux". */
export function deviceLabel(userAgent = navigator.userAgent) {
  const browsers = [
    ["Edg/", "Edge"],
    ["Firefox/", "Firefox"],
    ["Chromium/", "Chromium"],
    ["Chrome/", "Chrome"],
    ["Safari/", "Safari"],
  ];
  const systems = [
    ["Android", "Android"],
    ["iPhone", "iOS"],
    ["iPad", "iPadOS"],
    ["Windows", "Windows"],
    ["Mac OS X", "macOS"],
    ["CrOS", "ChromeOS"],
    ["Linux", "Linux"],
  ];
  const browser = browsers.find(([mark]) => userAgent.includes(mark));
  const system = systems.find(([mark]) => userAgent.includes(mark));
  return `${browser ? browser[1] : "Browser"} on ${system ? system[1] : "an unknown system"}`;
}

export class HeraldPush extends EventTarget {
  /*
   * options:
   *   apiBase          the token-api's base URL
   *   getAuthToken     () => the signed-in user's JWT (or a promise of it), null when signed out
   *   messaging        where targets come from: FirebaseMessaging or EmulatorMessaging
   *   serviceWorkerUrl default "/herald-sw.js"
   *   deviceLabel      shown in the user's device list; default from the user agent
   *   touchAfterMs     a target the server last saw longer ago is touched (default a day), so the
   *                    server's staleness pruning keeps browsers that are in use
   *   storage          default localStorage
   */
  constructor(options) {
    super();
    this.apiBase = options.apiBase.replace(/\/$/, "");
    this.getAuthToken = options.getAuthToken;
    this.messaging = options.messaging;
    this.serviceWorkerUrl = options.serviceWorkerUrl || "/herald-sw.js";
    this.deviceLabel = options.deviceLabel || deviceLabel();
    this.touchAfterMs = options.touchAfterMs ?? DAY_MS;
    this.storage = options.storage || globalThis.localStorage;
    this.state = "signed-out";
    this.target = null;
    this.registration = null;
    this.syncing = null;
  }

  static get supported() {
    return (
      "serviceWorker" in navigator && "Notification" in globalThis && "PushManager" in globalThis
    );
  }

  get permission() {
    return HeraldPush.supported ? Notification.permission : "denied";
  }

  /* On every app load: the service worker, foreground messages, and a sync when allowed. */
  async start() {
    if (!HeraldPush.supported) return this.#status("unsupported");
    this.registration = await navigator.serviceWorker.register(this.serviceWorkerUrl);
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "herald:message") {
        this.dispatchEvent(new CustomEvent("message", { detail: event.data.message }));
      }
    });
    return this.sync();
  }

  /* Ask for permission: call it from a click or another user gesture, never on load. */
  async requestPermission() {
    if (!HeraldPush.supported) return this.#status("unsupported");
    const answer = await Notification.requestPermission();
    if (answer !== "granted") return this.#status(answer === "denied" ? "denied" : "needs-permission");
    return this.sync();
  }

  async signIn() {
    return this.sync();
  }

  /* Unregister this browser's target for the user who is signing out. */
  async signOut() {
    this.messaging.stop();
    const stored = this.#registered();
    if (stored) {
      try {
        await this.#api("DELETE", `/v1/targets/${await targetId(stored.value)}`);
      } catch (error) {
        if (!(error instanceof HeraldApiError && (error.status === 404 || error.status === 401))) {
          throw error;
        }
      }
    }
    this.storage.removeItem(REGISTERED_KEY);
    this.target = null;
    return this.#status("signed-out");
  }

  /* The signed-in user's devices as the token-api lists them; `current` marks this browser. */
  async devices() {
    const { targets } = await this.#api("GET", "/v1/targets");
    const mine = this.target ? await targetId(this.target.value) : "";
    return targets.map((t) => ({ ...t, current: t.id === mine }));
  }

  /* Get the target, compare it with the server's list, register or refresh when they differ. */
  sync() {
    this.syncing ??= this.#sync().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  async #sync() {
    if (!HeraldPush.supported) return this.#status("unsupported");
    if (!(await this.getAuthToken())) return this.#status("signed-out");
    if (Notification.permission === "denied") return this.#status("denied");
    if (Notification.permission !== "granted") return this.#status("needs-permission");
    this.#status("registering");
    try {
      const registration = await navigator.serviceWorker.ready;
      const target = await this.messaging.getTarget(registration);
      const id = await targetId(target.value);
      const { targets } = await this.#api("GET", "/v1/targets");
      const known = targets.find((t) => t.id === id);
      const fresh = known && Date.now() - Date.parse(known.last_seen_at) < this.touchAfterMs;
      if (!fresh) await this.#register(target);
      this.storage.setItem(REGISTERED_KEY, JSON.stringify(target));
      this.target = target;
      this.messaging.listen(target, registration, () => this.sync());
      return this.#status("registered", id);
    } catch (error) {
      if (error instanceof HeraldApiError && error.status === 401) {
        return this.#status("signed-out", "the session was not accepted");
      }
      this.#status("error", String(error.message || error));
      throw error;
    }
  }

  async #register(target) {
    const body = { [target.kind]: target.value, platform: "web", device_label: this.deviceLabel };
    if (target.projectId) body.project_id = target.projectId;
    const previous = this.#registered();
    if (previous && previous.value !== target.value) {
      const old = { [previous.kind]: previous.value };
      return this.#api("POST", "/v1/targets/refresh", { old, new: body });
    }
    return this.#api("PUT", "/v1/targets", body);
  }

  #registered() {
    const text = this.storage.getItem(REGISTERED_KEY);
    return text ? JSON.parse(text) : null;
  }

  async #api(method, path, body) {
    const token = await this.getAuthToken();
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.apiBase + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) throw new HeraldApiError(response.status, parsed || {});
    return parsed;
  }

  #status(state, detail = "") {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, detail } }));
    return state;
  }
}
