// What the user is told besides the page itself: a toast for a failure or an ended call, and a banner while the
// socket is down. `act` wraps every handler of the interface, so that no failure goes unsaid.

import { $ } from "../dom.js";

let toastTimer;

/** Shows a message for six seconds. */
export function toast(message) {
  const box = $("#toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 6000);
}

/** Runs an action from the interface, showing any failure in words. */
export function act(work) {
  return async (...args) => {
    try {
      await work(...args);
    } catch (error) {
      console.error(error);
      toast(error.message || "Something went wrong.");
    }
  };
}

export function mountFeedback({ store }) {
  store.on("connection", ({ online, node }) => {
    $("#offline-banner").hidden = online;
    // Which node holds the socket: read by the end-to-end tests (and shown to operators in the title of #me).
    if (online) document.body.dataset.node = node;
  });
}
