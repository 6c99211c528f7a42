// The open room's conversation: its messages, the pending ones after them, and who is typing. Messages are drawn one
// at a time, keyed by room and seq: a new one is one node inserted in seq order, a deleted one replaces its node, and
// the whole list is drawn only when another room is opened. Older pages load as the list is scrolled to its top.

import { $, atEnd, h } from "../dom.js";
import { mountAttachments } from "./attachments.js";
import { personOf, refreshAvatar, userAvatar } from "./avatar.js";
import { act } from "./feedback.js";

const clock = (sentAt) => new Date(sentAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

export function mountMessages({ store, sync, files }) {
  const list = $("#messages");
  const attachments = mountAttachments({ files }, list);
  // The room drawn in the list, its messages' nodes by seq, its pending ones' by clientId, the newest seq of this
  // user's own there, and the node that reads "seen" (only that one can).
  let shown = null;
  let nodes = new Map();
  let pendingNodes = new Map();
  let lastMine = 0;
  let seen = null;

  function messageNode(message) {
    const mine = message.sender === store.me;
    if (mine) lastMine = Math.max(lastMine, message.seq);
    return h(
      "li",
      { class: `message${mine ? " mine" : ""}${message.deletedAt ? " deleted" : ""}`, dataset: { room: message.room, seq: message.seq, sender: message.sender } },
      mine ? null : userAvatar(store, message.sender),
      store.room(message.room)?.kind === "group" && !mine ? h("span", { class: "author", dataset: { user: message.sender } }, store.nameOf(message.sender)) : null,
      message.text === "" && message.files?.length ? null : h("span", { class: "text" }, message.text ?? "message deleted"),
      message.files?.length && !message.deletedAt ? attachments.filesNode(message.files) : null,
      h(
        "span",
        { class: "meta" },
        h("time", { datetime: message.sentAt }, clock(message.sentAt)),
        mine ? h("span", { class: "state", dataset: { state: "sent" } }, "sent") : null,
        mine && !message.deletedAt ? h("button", { class: "link delete", "aria-label": "Delete this message" }, "delete") : null,
      ),
    );
  }

  function pendingNode(clientId, pending) {
    const failed = pending.state === "failed";
    return h(
      "li",
      { class: "message mine pending", dataset: { clientId } },
      pending.text ? h("span", { class: "text" }, pending.text) : null,
      pending.files?.length ? attachments.pendingFilesNode(pending.files, store.progress(clientId), failed) : null,
      h(
        "span",
        { class: "meta" },
        h("span", { class: "state", dataset: { state: pending.state } }, failed ? `not sent: ${pending.error}` : "sending…"),
        failed ? h("button", { class: "link retry", "aria-label": "Send this message again" }, "retry") : null,
        failed ? h("button", { class: "link discard", "aria-label": "Do not send this message" }, "discard") : null,
      ),
    );
  }

  /** A message's node, kept under its seq. */
  function keyed(message) {
    const node = messageNode(message);
    nodes.set(message.seq, node);
    return node;
  }

  /** Draws a message: in place of its node if it has one, else before the first node of a later message. */
  function put(message) {
    const old = nodes.get(message.seq);
    const node = keyed(message);
    if (old) return old.replaceWith(node);
    // Pending messages stay last; messages mostly arrive newest, so the search starts from the end.
    let before = list.querySelector("li.pending");
    let other = before ? before.previousElementSibling : list.lastElementChild;
    while (other && Number(other.dataset.seq) > message.seq) {
      before = other;
      other = other.previousElementSibling;
    }
    list.insertBefore(node, before);
  }

  /**
   * A message right after another of the same sender's continues it: its face and name are not shown again, as in a
   * conversation read top to bottom. Marked over the whole list, since a message may arrive between two others.
   */
  function markRuns() {
    let previous = null;
    for (const node of list.children) {
      const sender = node.dataset.sender;
      node.classList.toggle("continued", sender !== undefined && sender === previous);
      previous = sender;
    }
  }

  /** The newest of this user's messages reads "seen" once every other member has read it. */
  function markSeen() {
    const others = (store.members(shown) ?? []).filter((member) => member.user.id !== store.me);
    const seenUpTo = others.length ? Math.min(...others.map((member) => member.lastReadSeq)) : 0;
    const node = lastMine && lastMine <= seenUpTo ? nodes.get(lastMine) : null;
    if (seen) seen.querySelector(".state").textContent = "sent";
    if (node) node.querySelector(".state").textContent = "seen";
    seen = node;
  }

  function drawTyping() {
    const users = store.typing(shown).map((user) => store.nameOf(user));
    $("#typing").textContent = users.length ? `${users.join(", ")} ${users.length === 1 ? "is" : "are"} typing…` : "";
  }

  /** Draws the whole of a room that was not drawn, and shows its end. */
  function show(room) {
    if (room !== shown) {
      shown = room;
      [nodes, pendingNodes, lastMine, seen] = [new Map(), new Map(), 0, null];
      const messages = store.messages(room).map(keyed);
      const pending = store.pending(room).map(([clientId, p]) => {
        const node = pendingNode(clientId, p);
        pendingNodes.set(clientId, node);
        return node;
      });
      list.replaceChildren(...messages, ...pending);
      markRuns();
      markSeen();
    }
    drawTyping();
    list.scrollTop = list.scrollHeight;
    $("#message-input").focus();
  }

  store.on("current", ({ id }) => id !== null && show(id));

  store.on("room.removed", ({ id }) => {
    if (id !== shown) return;
    shown = null;
    list.replaceChildren();
    $("#typing").textContent = "";
  });

  store.on("messages", ({ room, seqs }) => {
    if (room !== shown) return;
    const follow = atEnd(list);
    // A page of history older than every message drawn goes before them at once.
    const first = Number(list.firstElementChild?.dataset.seq ?? Infinity);
    const older = seqs.filter((seq) => seq < first).sort((a, b) => a - b);
    list.prepend(...older.map((seq) => keyed(store.message(room, seq))));
    for (const seq of seqs) if (!(seq < first)) put(store.message(room, seq));
    markRuns();
    markSeen();
    if (follow) list.scrollTop = list.scrollHeight;
  });

  store.on("pending", ({ clientId, room }) => {
    if (room !== shown) return;
    const pending = store.pendingMessage(clientId);
    const old = pendingNodes.get(clientId);
    const follow = atEnd(list) || !old;
    if (!pending) {
      old?.remove();
      pendingNodes.delete(clientId);
      return;
    }
    const node = pendingNode(clientId, pending);
    pendingNodes.set(clientId, node);
    if (old) old.replaceWith(node);
    else list.append(node);
    if (follow) list.scrollTop = list.scrollHeight;
  });

  store.on("progress", ({ clientId, room, index, fraction }) => room === shown && attachments.showProgress(pendingNodes.get(clientId), index, fraction));
  store.on("members", ({ room }) => room === shown && markSeen());
  store.on("read", ({ room }) => room === shown && markSeen());
  store.on("typing", ({ room }) => room === shown && drawTyping());

  // Names learnt late (a group's members) replace "Someone" over their messages, and new pictures the faces beside.
  store.on("users", ({ ids }) => {
    const changed = new Set(ids);
    for (const author of list.querySelectorAll(".author")) {
      if (changed.has(author.dataset.user)) author.textContent = store.nameOf(author.dataset.user);
    }
    for (const face of list.querySelectorAll("li.message > .avatar")) {
      const sender = face.parentElement.dataset.sender;
      if (changed.has(sender)) refreshAvatar(face, personOf(store, sender));
    }
    drawTyping();
  });

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.delete, button.retry, button.discard");
    const item = button?.closest("li");
    if (!button) return;
    if (button.classList.contains("retry")) sync.send(item.dataset.clientId);
    else if (button.classList.contains("discard")) sync.discard(item.dataset.clientId);
    else act(() => sync.deleteMessage(item.dataset.room, Number(item.dataset.seq)))();
  });

  list.addEventListener(
    "scroll",
    act(async () => {
      const room = store.current;
      if (list.scrollTop > 40 || !room || store.exhausted(room)) return;
      const before = list.scrollHeight;
      await sync.loadOlder(room);
      list.scrollTop = list.scrollHeight - before;
    }),
  );
}
