// What tells the user of what happens while they look elsewhere: the unread total in the tab's title ("(3) Parley"),
// new messages from others announced to screen readers in the open room, and, while the tab is hidden, a desktop
// notification and a short sound for each new message from someone else, for each incoming call, and for each
// message that names this user (@username), whichever room it is in. Clicking a notification brings the tab forward
// with its room open; a mention while the tab shows, of a room not open, is a toast. Permission is asked for when the user sends their first
// message, or presses "Enable notifications", never as the page loads.

import { $ } from "../dom.js";
import { callWords } from "./callEntry.js";
import { toast } from "./feedback.js";
import { mentionPattern } from "./richtext.js";
import { chime } from "./tone.js";

const askedKey = "parley.notificationsAsked";
// Messages older than this when they arrive (a replay after a reconnect) are not notified one by one.
const freshness = 2 * 60 * 1000;

const supported = () => "Notification" in window;

/** Asks for permission to notify, once per browser, while it is neither given nor refused. */
export async function askForNotifications({ again = false } = {}) {
  if (!supported() || window.Notification.permission !== "default") return;
  if (!again && localStorage.getItem(askedKey)) return;
  localStorage.setItem(askedKey, "1");
  await window.Notification.requestPermission();
  document.dispatchEvent(new Event("parley:notifications"));
}

export function mountNotifications({ live, store, sync }) {
  const name = document.title;
  const announcer = $("#announcer");
  const offer = $("#notifications-offer");
  let quiet;

  function drawTitle() {
    const unread = store.rooms.reduce((sum, room) => sum + Number(room.unread || 0), 0);
    document.title = unread ? `(${unread}) ${name}` : name;
  }

  function drawOffer() {
    offer.hidden = !supported() || window.Notification.permission !== "default";
  }

  const hidden = () => document.visibilityState !== "visible";

  function notify(title, body, room, tag) {
    if (!supported() || window.Notification.permission !== "granted") return;
    const notification = new window.Notification(title, { body, tag });
    notification.onclick = () => {
      window.focus();
      notification.close();
      if (store.room(room)) sync.open(room).catch(() => {});
    };
  }

  function announce(words) {
    announcer.textContent = words;
    clearTimeout(quiet);
    quiet = setTimeout(() => (announcer.textContent = ""), 5000);
  }

  /** Whether a message names this user: its `mention` event tells of it instead. */
  function mentions(message) {
    const username = store.user(store.me)?.username;
    return Boolean(username && message.text && mentionPattern(`@${username}`).test(message.text));
  }

  live.addEventListener("message", ({ detail: message }) => {
    if (message.deletedAt) return;
    // A call's line is told by the call itself (its ring, its end), and read out in the open room.
    if (message.call) {
      if (!hidden() && message.room === store.current) announce(callWords(store, message));
      return;
    }
    if (message.sender === store.me) return;
    const sender = store.nameOf(message.sender);
    const words = message.text || `sent ${message.files?.length === 1 ? "a file" : "files"}`;
    if (!hidden()) {
      if (message.room === store.current) announce(`${sender}: ${words}`);
      return;
    }
    if (Date.now() - Date.parse(message.sentAt) > freshness || mentions(message)) return;
    const room = store.room(message.room);
    chime();
    notify(room?.kind === "group" ? `${sender} in ${room.name}` : sender, words, message.room, `room-${message.room}`);
  });

  live.addEventListener("mention", ({ detail: { room, sender, snippet } }) => {
    if (sender === store.me) return;
    const name = store.nameOf(sender);
    const where = store.room(room)?.kind === "group" ? ` in ${store.room(room).name}` : "";
    if (!hidden()) {
      if (room !== store.current) toast(`${name} mentioned you${where}: ${snippet}`);
      return;
    }
    chime();
    notify(`${name} mentioned you${where}`, snippet, room, `room-${room}`);
  });

  store.on("incoming", ({ meeting }) => {
    if (!meeting || !hidden()) return;
    const room = store.room(meeting.room);
    const where = room?.kind === "group" ? ` in ${room.name}` : "";
    notify(`${store.nameOf(meeting.host)} is calling${where}`, "Open Parley to answer.", meeting.room, `call-${meeting.id}`);
  });

  $("#enable-notifications").addEventListener("click", () => askForNotifications({ again: true }));
  document.addEventListener("parley:notifications", drawOffer);
  store.on("me", () => {
    drawOffer();
    drawTitle();
  });
  store.on("room", drawTitle);
  store.on("room.removed", drawTitle);
}
