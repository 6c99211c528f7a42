// The composer: the message being written and the files going with it. Files come from the attach button, from a
// paste, or dropped anywhere on the page while a room is open; they wait in a tray above the text, each with a button
// that takes it out again, until the message is sent (Enter, or the Send button; Shift+Enter starts a new line).
// The text box grows with its lines up to a limit, and what is written in a room stays there as its draft, kept
// across reloads (memory.js), until it is sent. A message answered ("Replying to Alice: …") or one's own being
// edited (from its menu, or with Up in an empty box for the last one) shows in a bar above the text, with Cancel (or
// Escape); an edit takes the text box and gives the draft back once saved or cancelled.

import { $, h } from "../dom.js";
import { formatSize } from "../files.js";
import { act, toast } from "./feedback.js";
import { askForNotifications } from "./notify.js";

// As many files as one message carries (Limits.filesPerMessage on the server).
const filesPerMessage = 10;
// The most lines the text box grows to; past them it scrolls.
const maxRows = 8;

export function mountComposer({ live, memory, store, sync }) {
  const form = $("#composer");
  const input = $("#message-input");
  const picker = $("#file-input");
  const tray = $("#attachments");
  const chat = $("#chat");
  const bar = $("#composing");
  let staged = [];
  // The draft the text box held when an edit took it over.
  let draftBeforeEdit = null;

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

  /** As many rows as the text takes, from one to `maxRows`: rows, since the CSP allows no style attribute. */
  function fit() {
    input.rows = 1;
    const style = getComputedStyle(input);
    const line = parseFloat(style.lineHeight) || 20;
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const lines = Math.round((input.scrollHeight - padding) / line);
    input.rows = Math.max(1, Math.min(maxRows, lines));
    input.classList.toggle("full", lines > maxRows);
  }

  /** The bar above the text: what the message written answers, or that one's own message is being edited. */
  function drawComposing(composing) {
    const message = composing && store.message(composing.room, composing.seq);
    const editing = composing?.kind === "edit";
    if (draftBeforeEdit !== null && !editing) {
      input.value = draftBeforeEdit;
      draftBeforeEdit = null;
      fit();
    }
    bar.hidden = !message;
    $("#send").textContent = editing && message ? "Save" : "Send";
    $("#send").setAttribute("aria-label", editing && message ? "Save the edit" : "Send message");
    if (!message) return;
    const cancel = $("#composing-cancel");
    if (editing) {
      $("#composing-text").textContent = "Editing your message";
      cancel.setAttribute("aria-label", "Cancel editing");
      if (draftBeforeEdit === null) draftBeforeEdit = input.value;
      input.value = message.text;
    } else {
      const who = message.sender === store.me ? "yourself" : store.nameOf(message.sender);
      const words = message.text || (message.files?.length ? "a file" : "");
      $("#composing-text").textContent = `Replying to ${who}: ${words.length > 80 ? `${words.slice(0, 80).trimEnd()}…` : words}`;
      cancel.setAttribute("aria-label", "Cancel the reply");
    }
    fit();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  store.on("composing", ({ composing }) => drawComposing(composing));
  $("#composing-cancel").addEventListener("click", () => {
    store.setComposing(null);
    input.focus();
  });

  // Files staged for one room are not sent to another; each room has its own draft.
  store.on("current", ({ id }) => {
    if (store.composing) store.setComposing(null);
    clearTray();
    if (id === null) return;
    input.value = memory.draft(id);
    fit();
  });

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

  const saveEdit = act(async ({ room, seq }, text) => {
    const message = store.message(room, seq);
    if (text && text !== message?.text) await sync.editMessage(room, seq, text);
    if (store.composing?.seq === seq) store.setComposing(null);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    const composing = store.composing;
    if (composing?.kind === "edit") return saveEdit(composing, text);
    if ((!text && staged.length === 0) || !store.current) return;
    input.value = "";
    fit();
    memory.setDraft(store.current, "");
    const files = staged;
    clearTray();
    const replyTo = composing?.kind === "reply" && composing.room === store.current ? composing.seq : null;
    if (composing) store.setComposing(null);
    sync.compose(store.current, text, files, replyTo);
    // Having said something, the user may want to hear back while away: a sensible moment to ask.
    askForNotifications();
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape" && store.composing) {
      event.preventDefault();
      store.setComposing(null);
    } else if (event.key === "ArrowUp" && input.value === "" && !store.composing && store.current) {
      // Up in an empty box edits the user's last message, as in most chat apps.
      const last = store.messages(store.current).findLast((m) => m.sender === store.me && m.text && !m.deletedAt && !m.call);
      if (!last) return;
      event.preventDefault();
      store.setComposing({ room: last.room, seq: last.seq, kind: "edit" });
    }
  });

  let typingSent = 0;
  input.addEventListener("input", () => {
    fit();
    if (store.composing?.kind === "edit") return;
    if (store.current) memory.setDraft(store.current, input.value);
    if (!store.current || Date.now() - typingSent < 2500) return;
    typingSent = Date.now();
    live.notify({ type: "typing", room: store.current });
  });
}
