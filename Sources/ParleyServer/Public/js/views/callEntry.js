// A call in the room's timeline, worded for whoever reads it: the caller reads "You started a call", "No answer" or
// "Call cancelled"; the one called reads "Alice started a call", "Missed call from Alice · 10:42" or "You declined
// the call"; both read "Call · 3:12" for one that was answered. The room list's preview uses the same words. While
// the call that an entry started is still on, the entry offers to join it.

import { h } from "../dom.js";
import { duration } from "./call.js";
import { clock, dayOf } from "./message.js";

/** A call's length as a timeline says it: "3:12", or "1:02:03" past an hour. */
const length = (milliseconds) => duration(milliseconds).replace(/^0(?=\d:)/, "");

/** The words for a call entry (a message with `call`), as `store.me` reads them. */
export function callWords(store, message) {
  const { outcome, durationMs } = message.call;
  const caller = message.sender === store.me;
  const name = store.nameOf(message.sender);
  const room = store.room(message.room);
  switch (outcome) {
    case "started":
      return caller ? "You started a call" : `${name} started a call`;
    case "answered":
      return `Call · ${length(durationMs ?? 0)}`;
    case "missed":
    case "cancelled":
      if (!caller) return `Missed call from ${name} · ${clock(message.sentAt)}`;
      return outcome === "missed" ? "No answer" : "Call cancelled";
    case "declined":
      if (!caller) return "You declined the call";
      return room?.kind === "direct" && room.peer ? `${store.nameOf(room.peer.id)} declined` : "Call declined";
    default:
      return "Call";
  }
}

/** Whether the entry is a call this user missed: one from someone else that nobody answered. */
export const missedCall = (store, message) =>
  Boolean(message.call) && message.sender !== store.me && (message.call.outcome === "missed" || message.call.outcome === "cancelled");

/** Whether the entry counts as unread, as the server counts it: a missed call, not a start, an answer or a decline. */
export const countsUnread = (store, message) => !message.call || missedCall(store, message);

/** Whether `message` starts the call that is still on in its room, and this page is not in it. */
export function joinable(store, message) {
  const meeting = store.room(message.room)?.meeting;
  return message.call?.outcome === "started" && meeting?.id === message.call.meeting && store.call?.id !== meeting.id;
}

/** The entry as a line of the conversation: an icon, the words, the time, and "Join" while its call is on. */
export function callEntryNode(store, message) {
  const { outcome } = message.call;
  const missed = missedCall(store, message);
  const words = callWords(store, message);
  return h(
    "li",
    {
      class: `call-entry${missed ? " missed" : ""}`,
      dataset: { room: message.room, seq: message.seq, sender: message.sender, outcome, meeting: message.call.meeting, day: dayOf(message.sentAt), at: Date.parse(message.sentAt) },
    },
    h("span", { class: "call-icon", "aria-hidden": "true" }, missed ? "↙" : "☎"),
    h("span", { class: "call-text" }, words),
    missed ? null : h("time", { datetime: message.sentAt }, clock(message.sentAt)),
    outcome === "started"
      ? h("button", { type: "button", class: "small join-entry", hidden: !joinable(store, message), "aria-label": "Join this call" }, "Join")
      : null,
  );
}
