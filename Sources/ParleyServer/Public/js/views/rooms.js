// The room list, newest activity first, and the open room's header. Each room is one list item, keyed by the room's
// id: a change to a room redraws that item and moves it to its place, and leaves the others be. A list with no room
// says how to start one; a room with a call this user missed says so until it is opened.

import { $, h } from "../dom.js";
import { avatarNode, personOf } from "./avatar.js";
import { callWords } from "./callEntry.js";
import { act } from "./feedback.js";

const activity = (room) => room.lastMessage?.sentAt ?? room.createdAt;

/** Whether the room has a call this user missed: one the server counts, or one that rang in this page. */
const missed = (room) => Boolean(room.missedCall) || room.missedCalls > 0;

/** A message of files alone, in a line: their names. */
const filesPreview = (message) => `📎 ${message.files?.map((file) => file.name).join(", ") || "a file"}`;

export function mountRooms({ memory, store, sync }) {
  const list = $("#rooms");
  const items = new Map();
  // The room whose name the header shows; it stays there after "back" (on phones the header is then hidden).
  let headed = null;

  /**
   * A direct room's face is its peer's, with their presence (the peer as the store holds them: maybe newer than the
   * room's summary); a group's is its name's initials.
   */
  function face(room, online) {
    if (!room.peer) return h("span", { class: "face" }, avatarNode(room, "group"));
    return h("span", { class: "face" }, avatarNode(personOf(store, room.peer.id)), h("span", { class: `dot${online ? " online" : ""}`, "aria-hidden": "true" }));
  }

  function roomButton(room) {
    const online = room.peer ? store.online(room.peer.id) === true : null;
    const last = room.lastMessage;
    const preview = !last ? "No messages yet" : last.call ? callWords(store, last) : last.text === null ? "message deleted" : last.text || filesPreview(last);
    const label = `${room.name}${online === null ? "" : online ? ", online" : ", offline"}${room.unread ? `, ${room.unread} unread` : ""}${room.meeting ? ", call in progress" : missed(room) ? ", missed call" : ""}`;
    return h(
      "button",
      { class: `room${room.id === store.current ? " current" : ""}`, dataset: { room: room.id }, "aria-label": label },
      face(room, online),
      h("span", { class: "name" }, room.name),
      room.meeting
        ? h("span", { class: "badge-meeting", title: "Call in progress" }, "● call")
        : missed(room)
          ? h("span", { class: "badge-missed", title: "Missed call" }, "Missed call")
          : null,
      room.unread ? h("span", { class: "unread" }, String(room.unread)) : null,
      h("span", { class: "last" }, last && room.kind === "group" && !last.call ? `${store.nameOf(last.sender)}: ${preview}` : preview),
    );
  }

  /** Redraws one room's item and moves it before the first room with older activity (the list is in that order). */
  function draw(id) {
    const room = store.room(id);
    if (!room) return;
    let item = items.get(id);
    if (!item) items.set(id, (item = h("li", { dataset: { room: id } })));
    item.replaceChildren(roomButton(room));
    item.remove();
    const key = activity(room);
    let [low, high] = [0, list.children.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (activity(store.room(list.children[middle].dataset.room)).localeCompare(key) < 0) high = middle;
      else low = middle + 1;
    }
    list.insertBefore(item, list.children[low] ?? null);
  }

  function drawHeader() {
    const room = store.room(store.current);
    if (!room) return;
    $("#room-title").textContent = room.name;
    $("#composer").hidden = false;
    $("#call-button").hidden = false;
    const count = store.members(room.id)?.length ?? (room.memberCount > 0 ? room.memberCount : undefined);
    const members = count === undefined ? "Members" : `${count} member${count === 1 ? "" : "s"}`;
    $("#members").hidden = room.kind !== "group";
    $("#members").textContent = members;
    $("#members").setAttribute("aria-label", `${members} of ${room.name}: see and manage them`);
    $("#room-status").textContent = room.peer ? (store.online(room.peer.id) ? "online" : "offline") : "";
  }

  /** No rooms: the list says how to get one. */
  function drawEmpty() {
    $("#rooms-empty").hidden = store.rooms.length > 0 || store.me === null;
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.room");
    if (button) act(() => sync.open(button.dataset.room))();
  });

  $("#back").addEventListener("click", () => store.select(null));

  store.on("room", ({ id }) => {
    draw(id);
    drawEmpty();
    if (id === store.current) drawHeader();
  });

  store.on("me", drawEmpty);

  store.on("room.removed", ({ id }) => {
    items.get(id)?.remove();
    items.delete(id);
    drawEmpty();
    memory.forgetRoom(id);
    if (headed !== id) return;
    headed = null;
    $("#room-title").textContent = "Pick a room";
    $("#room-status").textContent = "";
    $("#composer").hidden = $("#call-button").hidden = $("#members").hidden = true;
    document.body.classList.remove("in-room");
  });

  store.on("current", ({ id, previous }) => {
    document.body.classList.toggle("in-room", id !== null);
    memory.room = id;
    for (const changed of [previous, id]) if (changed !== null) draw(changed);
    if (id === null) return;
    // Opening the room is seeing its missed call.
    const opened = store.room(id);
    if (opened?.missedCall || opened?.missedCalls > 0) store.updateRoom(id, { missedCall: null, missedCalls: 0 });
    headed = id;
    drawHeader();
  });

  store.on("presence", ({ users }) => {
    const changed = new Set(users);
    for (const room of store.rooms) if (room.peer && changed.has(room.peer.id)) draw(room.id);
    drawHeader();
  });

  // Names learnt late (a group's members) show in the previews of group rooms, and a peer's new picture in theirs.
  store.on("users", ({ ids }) => {
    const changed = new Set(ids);
    for (const room of store.rooms) {
      if (changed.has(room.peer?.id) || (room.kind === "group" && changed.has(room.lastMessage?.sender))) draw(room.id);
    }
  });

  store.on("members", ({ room }) => room === store.current && drawHeader());
}
