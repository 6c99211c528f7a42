// Asking before something that cannot be undone (deleting a message or a group): a modal dialog that names what
// goes, with Cancel focused, so that Enter or Escape alone never destroys anything.

import { $ } from "../dom.js";

/** Resolves with whether the user confirmed: `title` asks, `text` says what follows, `action` labels the button. */
export function confirmAction({ title, text, action }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  $("#confirm-no").focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true }));
}
