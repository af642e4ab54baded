/*
 * Targets from Herald's FCM emulator (tools/fcm-emulator), for development without a network:
 * the emulator issues targets as getToken()/getId() would, and streams what it accepted for a
 * target (Server-Sent Events). There is no push service to wake the service worker, so the page
 * holds the stream and hands each payload to the service worker, which shows it exactly as it
 * shows a real push. One tab of the app holds the stream at a time (a Web Lock); when it closes,
 * another takes over.
 */

const STORAGE_KEY = "herald.emulator-target";
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export class EmulatorMessaging {
  /*
   * options:
   *   url        the emulator's base URL, such as http://127.0.0.1:18080
   *   projectId  the FCM project to issue targets for
   *   kind       "token" (registration token, default) or "fid" (installation id)
   *   storage    default localStorage
   */
  constructor({ url, projectId, kind = "token", storage = globalThis.localStorage }) {
    this.url = url.replace(/\/$/, "");
    this.projectId = projectId;
    this.kind = kind;
    this.storage = storage;
    this.listening = null;
  }

  /* This browser's target: the one issued before while the emulator still knows it as live,
     else a new one (after a rotation, deletion or expiry, or an emulator restart). */
  async getTarget() {
    const stored = JSON.parse(this.storage.getItem(STORAGE_KEY) || "null");
    if (stored && (await this.#alive(stored.value))) return stored;
    const response = await fetch(`${this.url}/browser/v1/projects/${this.projectId}/targets`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind: this.kind }),
    });
    if (!response.ok) throw new Error(`the FCM emulator answered ${response.status}`);
    const issued = await response.json();
    const target = { kind: issued.kind, value: issued.target, projectId: issued.project_id };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(target));
    return target;
  }

  /* Hold the stream of `target` and post each message to the service worker; `onLost` is
     called when the emulator says the target is dead. */
  listen(target, registration, onLost) {
    if (this.listening && this.listening.value === target.value) return;
    this.stop();
    const controller = new AbortController();
    this.listening = { value: target.value, controller };
    const run = () => this.#stream(target.value, registration, controller.signal, onLost);
    const lockName = `herald-emulator-stream:${target.value}`;
    const held = navigator.locks
      ? navigator.locks.request(lockName, { signal: controller.signal }, run)
      : run();
    held.catch((error) => {
      if (error.name !== "AbortError") console.warn("herald: emulator stream stopped", error);
    });
  }

  stop() {
    if (this.listening) this.listening.controller.abort();
    this.listening = null;
  }

  async #alive(value) {
    const controller = new AbortController();
    const response = await fetch(this.#streamUrl(value), { signal: controller.signal });
    controller.abort();
    return response.ok;
  }

  #streamUrl(value) {
    return `${this.url}/browser/v1/stream?target=${encodeURIComponent(value)}`;
  }

  async #stream(value, registration, signal, onLost) {
    let delay = RETRY_MIN_MS;
    while (!signal.aborted) {
      try {
        const response = await fetch(this.#streamUrl(value), { signal });
        if (response.status === 404 || response.status === 410) {
          this.stop();
          onLost();
          return;
        }
        if (!response.ok) throw new Error(`the FCM emulator answered ${response.status}`);
        delay = RETRY_MIN_MS;
        for await (const event of serverSentEvents(response.body)) {
          if (event.type === "message") {
            const worker = registration.active || (await navigator.serviceWorker.ready).active;
            worker.postMessage({ type: "herald:push", payload: JSON.parse(event.data) });
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        console.warn("herald: emulator stream interrupted, reconnecting", error);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }
}

/* The events of a text/event-stream body: {type, data}. */
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (line === "") {
        if (data.length) yield { type, data: data.join("\n") };
        type = "message";
        data = [];
      } else if (line.startsWith("event:")) {
        type = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
    }
  }
}
