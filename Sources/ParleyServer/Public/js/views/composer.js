// The composer: the message being written and the files going with it. Files come from the attach button, from a
// paste, or dropped anywhere on the page while a room is open; they wait in a tray above the text, each with a button
// that takes it out again, until the message is sent (Enter, or the Send button).

import { $, h } from "../dom.js";
import { formatSize } from "../files.js";
import { toast } from "./feedback.js";

// As many files as one message carries (Limits.filesPerMessage on the server).
const filesPerMessage = 10;

export function mountComposer({ live, store, sync }) {
  const form = $("#composer");
  const input = $("#message-input");
  const picker = $("#file-input");
  const tray = $("#attachments");
  const chat = $("#chat");
  let staged = [];

  function drawTray() {
    tray.hidden = staged.length === 0;
    tray.replaceChildren(
      ...staged.map((file, index) =>
        h(
          "li",
          { class: "file chip" },
          h("span", { class: "name", title: file.name }, file.name || "file"),
          h("span", { class: "size" }, formatSize(file.size)),
          h("button", { type: "button", class: "link unstage", dataset: { index }, "aria-label": `Remove ${file.name || "the file"}` }, "×"),
        ),
      ),
    );
  }

  /** Puts files in the tray: not empty ones, which hold nothing to send, and no more than a message carries. */
  function stage(files) {
    if (!store.current || form.hidden) return;
    for (const file of files) {
      if (file.size === 0) toast(`${file.name || "The file"} is empty.`);
      else if (staged.length === filesPerMessage) return toast(`A message carries at most ${filesPerMessage} files.`);
      else staged.push(file);
    }
    drawTray();
    input.focus();
  }

  function clearTray() {
    staged = [];
    drawTray();
  }

  // Files staged for one room are not sent to another.
  store.on("current", clearTray);

  $("#attach").addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    stage([...picker.files]);
    picker.value = "";
  });
  tray.addEventListener("click", (event) => {
    const button = event.target.closest("button.unstage");
    if (!button) return;
    staged.splice(Number(button.dataset.index), 1);
    drawTray();
  });

  input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    event.preventDefault();
    stage(files);
  });

  // A file dropped anywhere is taken, never opened in place of the page.
  const carriesFiles = (event) => event.dataTransfer?.types.includes("Files");
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    const open = Boolean(store.current) && !form.hidden;
    event.dataTransfer.dropEffect = open ? "copy" : "none";
    chat.classList.toggle("dropping", open);
  });
  document.addEventListener("dragleave", (event) => {
    if (event.relatedTarget === null) chat.classList.remove("dropping");
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    chat.classList.remove("dropping");
    stage([...event.dataTransfer.files]);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if ((!text && staged.length === 0) || !store.current) return;
    input.value = "";
    const files = staged;
    clearTray();
    sync.compose(store.current, text, files);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  let typingSent = 0;
  input.addEventListener("input", () => {
    if (!store.current || Date.now() - typingSent < 2500) return;
    typingSent = Date.now();
    live.notify({ type: "typing", room: store.current });
  });
}
