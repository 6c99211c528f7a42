// The open room's conversation: its messages and calls, the pending messages after them, and who is typing. Messages
// are drawn one at a time, keyed by room and seq: a new one is one node inserted in seq order, an edited, reacted to
// or deleted one replaces its node, and the whole list is drawn only when another room is opened. The list is no live region (a screen
// reader would read it all again); new messages from others are announced on their own (notify.js). Older pages
// load as the list is scrolled to its top.

import { $, atEnd, h } from "../dom.js";
import { arrange } from "./arrange.js";
import { mountAttachments } from "./attachments.js";
import { personOf, refreshAvatar } from "./avatar.js";
import { callEntryNode, countsUnread, joinable } from "./callEntry.js";
import { act } from "./feedback.js";
import { describe, messageNode, pendingNode } from "./message.js";
import { mountMessageActions } from "./messageActions.js";
import { mountUnread } from "./unread.js";

export function mountMessages({ store, sync, files }) {
  const list = $("#messages");
  const attachments = mountAttachments({ files }, list);
  const drawing = { store, attachments };
  const actions = mountMessageActions({ store, sync }, list);
  const unread = mountUnread(list, actions);
  const empty = h("li", { class: "empty" }, "No messages yet — say hello.");
  // The room drawn in the list, its messages' nodes by seq, its pending ones' by clientId, the node that shows the
  // delivery state (the newest of this user's messages), and the user's read mark when they opened the room.
  let shown = null;
  let nodes = new Map();
  let pendingNodes = new Map();
  let stateHolder = null;
  let readMark = null;

  /** A message's node (a call's line, for a call's entry), kept under its seq. */
  function keyed(message) {
    const node = message.call ? callEntryNode(store, message) : messageNode(drawing, message);
    nodes.set(message.seq, node);
    return node;
  }

  /**
   * Draws a message: in place of its node if it has one, else before the node of the next later message. A node
   * replaced while the keyboard's focus is in it hands the focus on to the same place in the new one.
   */
  function put(message) {
    const old = nodes.get(message.seq);
    const node = keyed(message);
    if (old) {
      const focused = old.contains(document.activeElement) ? document.activeElement : null;
      old.replaceWith(node);
      if (!actions.carry(old, node) && focused) refocus(node, focused);
      return;
    }
    let later = Infinity;
    for (const seq of nodes.keys()) if (seq > message.seq && seq < later) later = seq;
    // Pending messages stay last.
    list.insertBefore(node, nodes.get(later) ?? list.querySelector(":scope > li.pending"));
  }

  /** Focuses `node`, and in it the button that matches `focused` (a reaction's chip, or "More actions"), if any. */
  function refocus(node, focused) {
    const chip = focused.dataset.emoji ? [...node.querySelectorAll("button.reaction")].find((b) => b.dataset.emoji === focused.dataset.emoji) : null;
    const same = chip ?? (focused.classList.contains("more") ? node.querySelector(":scope > .more") : null);
    actions.focusMessage(node);
    if (same) {
      same.tabIndex = 0;
      same.focus();
    }
  }

  /**
   * Only the newest of this user's messages says how far it got: "Sent", or "Seen" once every other member has read
   * it. The others say nothing, as a conversation does not repeat it under every line.
   */
  function markState() {
    let newest = 0;
    for (const [seq, node] of nodes) if (seq > newest && node.classList.contains("mine") && !node.classList.contains("deleted")) newest = seq;
    const others = (store.members(shown) ?? []).filter((member) => member.user.id !== store.me);
    const seenUpTo = others.length ? Math.min(...others.map((member) => member.lastReadSeq)) : 0;
    const holder = nodes.get(newest) ?? null;
    const state = newest && newest <= seenUpTo ? "seen" : "sent";
    const current = holder?.querySelector(".state");
    if (holder === stateHolder && current?.dataset.state === state) return;
    stateHolder?.querySelector(".state")?.remove();
    stateHolder = holder;
    if (holder) holder.querySelector(".meta").append(h("span", { class: "state", dataset: { state } }, state === "seen" ? "Seen" : "Sent"));
  }

  /**
   * The first message the user had not read when they opened the room: the first from someone else after their read
   * mark. Where the server gives no mark, it is found by counting back the room's unread messages.
   */
  function firstUnread() {
    if (!readMark) return null;
    const messages = store.messages(shown);
    const theirs = (message) => message.sender !== store.me && !message.deletedAt && countsUnread(store, message);
    if (typeof readMark.lastRead === "number") return messages.find((message) => message.seq > readMark.lastRead && theirs(message)) ?? null;
    const candidates = messages.filter(theirs);
    return candidates.at(-Math.min(readMark.unread, candidates.length)) ?? null;
  }

  function placeUnread() {
    if (unread.placed || !readMark) return;
    const first = firstUnread();
    if (first && nodes.has(first.seq)) unread.place(nodes.get(first.seq));
  }

  /** After any change: separators and runs, the delivery state, the empty room's note, the list's tab stop. */
  function settle() {
    placeUnread();
    arrange(list);
    markState();
    const bare = nodes.size === 0 && pendingNodes.size === 0 && store.exhausted(shown);
    if (bare) list.append(empty);
    else empty.remove();
    actions.refresh();
  }

  function drawTyping() {
    const users = store.typing(shown).map((user) => store.nameOf(user));
    $("#typing").textContent = users.length ? `${users.join(", ")} ${users.length === 1 ? "is" : "are"} typing…` : "";
  }

  /** Draws the whole of a room that was not drawn, marks what is new in it, and shows its end. */
  function show(room) {
    // Taken before the room is marked read: what was new when the room opened stays marked as new.
    const summary = store.room(room);
    readMark = summary?.unread > 0 ? { lastRead: summary.lastRead, unread: summary.unread } : null;
    unread.clear();
    if (room !== shown) {
      shown = room;
      [nodes, pendingNodes, stateHolder] = [new Map(), new Map(), null];
      const messages = store.messages(room).map(keyed);
      const pending = store.pending(room).map(([clientId, p]) => {
        const node = pendingNode(drawing, clientId, p);
        pendingNodes.set(clientId, node);
        return node;
      });
      list.replaceChildren(...messages, ...pending);
    }
    settle();
    drawTyping();
    list.scrollTop = list.scrollHeight;
    $("#message-input").focus();
  }

  store.on("current", ({ id }) => id !== null && show(id));

  store.on("room.removed", ({ id }) => {
    if (id !== shown) return;
    shown = null;
    unread.clear();
    list.replaceChildren();
    $("#typing").textContent = "";
  });

  store.on("messages", ({ room, seqs }) => {
    if (room !== shown) return;
    const follow = atEnd(list);
    // A page of history older than every message drawn goes before them at once.
    const first = Math.min(...nodes.keys());
    const older = seqs.filter((seq) => seq < first).sort((a, b) => a - b);
    list.prepend(...older.map((seq) => keyed(store.message(room, seq))));
    for (const seq of seqs) if (!(seq < first)) put(store.message(room, seq));
    settle();
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
      return settle();
    }
    const node = pendingNode(drawing, clientId, pending);
    pendingNodes.set(clientId, node);
    if (old) old.replaceWith(node);
    else list.append(node);
    settle();
    if (follow) list.scrollTop = list.scrollHeight;
  });

  // A call's entry offers to join while its call is on.
  function drawJoins() {
    for (const entry of list.querySelectorAll(":scope > li.call-entry[data-outcome=started]")) {
      const message = store.message(entry.dataset.room, Number(entry.dataset.seq));
      const button = entry.querySelector("button.join-entry");
      if (message && button) button.hidden = !joinable(store, message);
    }
  }

  store.on("room", ({ id }) => id === shown && drawJoins());
  store.on("call", drawJoins);

  // A message of the open room, shown in the middle of the list and marked a moment (a quote pressed, a search's
  // result chosen).
  store.on("reveal", ({ room, seq }) => {
    const node = room === shown ? nodes.get(seq) : null;
    if (!node) return;
    node.scrollIntoView({ block: "center" });
    node.classList.remove("flash");
    // Restarts the mark's animation on a node marked a moment ago.
    void node.offsetWidth;
    node.classList.add("flash");
    setTimeout(() => node.classList.remove("flash"), 2000);
    if (node.classList.contains("message")) actions.focusMessage(node);
  });

  store.on("progress", ({ clientId, room, index, fraction }) => room === shown && attachments.showProgress(pendingNodes.get(clientId), index, fraction));
  store.on("members", ({ room }) => room === shown && markState());
  store.on("read", ({ room }) => room === shown && markState());
  store.on("typing", ({ room }) => room === shown && drawTyping());

  // Names learnt late (a group's members) replace "Someone" over their messages and in their actions' labels, and
  // new pictures the faces beside.
  store.on("users", ({ ids }) => {
    const changed = new Set(ids);
    for (const author of list.querySelectorAll(".author, .quote-author")) {
      if (changed.has(author.dataset.user) && author.dataset.user !== store.me) author.textContent = store.nameOf(author.dataset.user);
    }
    for (const item of list.querySelectorAll(":scope > li.message[data-seq]")) {
      if (!changed.has(item.dataset.sender)) continue;
      const face = item.querySelector(":scope > .avatar");
      if (face) refreshAvatar(face, personOf(store, item.dataset.sender));
      const message = store.message(item.dataset.room, Number(item.dataset.seq));
      if (message) item.querySelector(":scope > .more")?.setAttribute("aria-label", `More actions for ${describe(store, message)}`);
    }
    for (const entry of list.querySelectorAll(":scope > li.call-entry")) {
      const message = changed.has(entry.dataset.sender) && store.message(entry.dataset.room, Number(entry.dataset.seq));
      if (message) put(message);
    }
    drawTyping();
  });

  list.addEventListener("click", (event) => {
    const quote = event.target.closest("button.quote");
    if (quote) {
      const seq = Number(quote.dataset.replyTo);
      if (nodes.has(seq)) store.reveal(shown, seq);
      else act(() => sync.reveal(shown, seq))();
      return;
    }
    const chip = event.target.closest("button.reaction");
    if (chip) {
      const item = chip.closest("li.message");
      const on = chip.getAttribute("aria-pressed") !== "true";
      act(() => sync.react(item.dataset.room, Number(item.dataset.seq), chip.dataset.emoji, on))();
      return;
    }
    const join = event.target.closest("button.join-entry");
    if (join) {
      document.dispatchEvent(new CustomEvent("parley:join-call", { detail: { meeting: join.closest("li").dataset.meeting } }));
      return;
    }
    const button = event.target.closest("button.retry, button.discard");
    if (!button) return;
    const item = button.closest("li");
    if (button.classList.contains("retry")) sync.send(item.dataset.clientId);
    else sync.discard(item.dataset.clientId);
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
