/*
 * Targets from real FCM through the Firebase JS SDK (v9+ modular API). The SDK is passed in
 * rather than imported here, so this file works with any way of loading it (a bundler, an import
 * map, a CDN build) and Herald's own pages need no network:
 *
 *   import { initializeApp } from "firebase/app";
 *   import { getMessaging, getToken } from "firebase/messaging";
 *   import { FirebaseMessaging } from "./firebase-messaging.js";
 *
 *   const app = initializeApp(firebaseConfig);
 *   const messaging = new FirebaseMessaging({
 *     messaging: getMessaging(app), getToken, vapidKey: "<Web Push certificate key pair>",
 *     projectId: firebaseConfig.projectId,
 *   });
 *
 * The token is requested for Herald's own service worker registration, so the browser's push
 * service wakes herald-sw.js, which shows the notification without the Firebase SDK. Messages
 * for a page in front come from that worker too (its `herald:message` posts), so the SDK's
 * onMessage is not used.
 *
 * To address the browser by its Firebase Installation ID instead of the registration token,
 * also pass `installations: getInstallations(app)` and `getId` from "firebase/installations":
 * getToken still runs first (it creates the push subscription FCM delivers to).
 */

export class FirebaseMessaging {
  constructor({ messaging, getToken, vapidKey, projectId, installations = null, getId = null }) {
    this.messaging = messaging;
    this.getToken = getToken;
    this.vapidKey = vapidKey;
    this.projectId = projectId;
    this.installations = installations;
    this.getId = getId;
  }

  /* getToken() on every call, as Firebase asks: it returns the stored token while it is valid
     and a new one after the push subscription changed or the token expired. */
  async getTarget(registration) {
    const token = await this.getToken(this.messaging, {
      vapidKey: this.vapidKey,
      serviceWorkerRegistration: registration,
    });
    if (this.installations && this.getId) {
      return { kind: "fid", value: await this.getId(this.installations), projectId: this.projectId };
    }
    return { kind: "token", value: token, projectId: this.projectId };
  }

  /* Nothing to hold open: the push service delivers to the service worker. */
  listen() {}

  stop() {}
}
