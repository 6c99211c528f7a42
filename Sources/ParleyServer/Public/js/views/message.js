// One message of the conversation as a list item: the sender's face and name (hidden by the stylesheet when it
// continues the sender's run), the message it answers, its text with links and this user's @username marked, its
// files, its time ("edited" once changed), its reactions, and a "More actions" button. The item is what the
// keyboard moves between (messages.js); its buttons are out of the tab order but for the item focused.

import { h } from "../dom.js";
import { userAvatar } from "./avatar.js";
import { reactionsNode } from "./reactions.js";
import { richText } from "./richtext.js";

export const clock = (date) => new Date(date).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** The local calendar day of a time, "2025-03-07": messages are grouped under their day. */
export function dayOf(date) {
  const day = new Date(date);
  return `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
}

/** A few words of a text, to tell apart the actions of two messages sent the same minute. */
const snippet = (text) => (text.length > 40 ? `${text.slice(0, 40).trimEnd()}…` : text);

/** What a message is called by its actions' labels: "message from Alice at 10:42: “Hello…”". */
export function describe(store, message) {
  const who = message.sender === store.me ? "you" : store.nameOf(message.sender);
  const words = message.text ? `: “${snippet(message.text)}”` : message.files?.length ? `: ${message.files.length} file${message.files.length > 1 ? "s" : ""}` : "";
  return `message from ${who} at ${clock(message.sentAt)}${words}`;
}

/** The words a mention of this user is: their @username. */
const mentionOf = (store) => (store.user(store.me)?.username ? `@${store.user(store.me).username}` : null);

/**
 * The message a reply answers, as the reply shows it above its text: its sender and first words, or that it was
 * deleted. Pressing it shows the answered message, when it is loaded.
 */
export function quoteNode(store, seq, quoted) {
  if (!quoted) return null;
  const who = quoted.sender === store.me ? "You" : store.nameOf(quoted.sender);
  const words = quoted.deleted ? "Message deleted" : quoted.snippet || "a file";
  return h(
    "button",
    { type: "button", class: `quote${quoted.deleted ? " gone" : ""}`, tabindex: "-1", dataset: { replyTo: seq }, "aria-label": `In reply to ${who}: ${words}. Show that message` },
    h("span", { class: "quote-author", dataset: { user: quoted.sender } }, who),
    h("span", { class: "quote-text" }, words),
  );
}

export function messageNode({ store, attachments }, message) {
  const mine = message.sender === store.me;
  const deleted = Boolean(message.deletedAt);
  const group = store.room(message.room)?.kind === "group";
  const edited = Boolean(message.editedAt) && !deleted;
  return h(
    "li",
    {
      class: `message${mine ? " mine" : ""}${deleted ? " deleted" : ""}`,
      tabindex: "-1",
      dataset: { room: message.room, seq: message.seq, sender: message.sender, day: dayOf(message.sentAt), at: Date.parse(message.sentAt) },
    },
    mine ? null : userAvatar(store, message.sender),
    group && !mine ? h("span", { class: "author", dataset: { user: message.sender } }, store.nameOf(message.sender)) : null,
    deleted ? null : quoteNode(store, message.replyTo, message.quoted),
    message.text === "" && message.files?.length ? null : h("span", { class: "text" }, ...(deleted || message.text == null ? ["message deleted"] : richText(message.text, mentionOf(store)))),
    message.files?.length && !deleted ? attachments.filesNode(message.files) : null,
    deleted ? null : reactionsNode(store, message),
    h(
      "span",
      { class: "meta" },
      edited ? h("span", { class: "edited", title: `Edited at ${clock(message.editedAt)}` }, "(edited)") : null,
      h("time", { datetime: message.sentAt }, clock(message.sentAt)),
    ),
    deleted
      ? null
      : h("button", { type: "button", class: "more", tabindex: "-1", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `More actions for ${describe(store, message)}` }, "⋯"),
  );
}

/** A message sent from this page that the server has not stored yet: sending, or failed with a retry. */
export function pendingNode({ store, attachments }, clientId, pending) {
  const failed = pending.state === "failed";
  const now = new Date();
  return h(
    "li",
    { class: "message mine pending", tabindex: "-1", dataset: { clientId, sender: store.me, day: dayOf(now), at: now.getTime() } },
    pending.replyTo ? pendingQuote(store, pending) : null,
    pending.text ? h("span", { class: "text" }, ...richText(pending.text)) : null,
    pending.files?.length ? attachments.pendingFilesNode(pending.files, store.progress(clientId), failed) : null,
    h(
      "span",
      { class: "meta" },
      h("span", { class: "state", dataset: { state: pending.state } }, failed ? `Not sent: ${pending.error}` : "Sending…"),
      failed ? h("button", { type: "button", class: "link retry", "aria-label": "Send this message again" }, "Retry") : null,
      failed ? h("button", { type: "button", class: "link discard", "aria-label": "Do not send this message" }, "Discard") : null,
    ),
  );
}

/** What a pending reply quotes, from the answered message as this page holds it. */
function pendingQuote(store, pending) {
  const answered = store.message(pending.room, pending.replyTo);
  if (!answered) return null;
  const quoted = answered.deletedAt ? { sender: answered.sender, deleted: true } : { sender: answered.sender, snippet: (answered.text ?? "").slice(0, 140) };
  return quoteNode(store, pending.replyTo, quoted);
}
