// What can be done to a message, and how the keyboard moves through the conversation. The list is one tab stop:
// the message last focused (the newest at first) takes Tab, the arrow keys, Home and End move between messages,
// and only that message's buttons (its quote, its reactions, "More actions") follow it in the tab order. The
// button, or Enter on the message, opens a menu: react with one of a few emoji, reply, edit (one's own text), copy
// the text, and delete (one's own messages, or any as a group's owner or admin), after asking.

import { h } from "../dom.js";
import { confirmAction } from "./confirm.js";
import { describe } from "./message.js";
import { act, toast } from "./feedback.js";
import { commonEmoji } from "./reactions.js";

const items = (list) => [...list.querySelectorAll(":scope > li.message")];

/** The buttons of a message that follow it in the tab order while it is the list's tab stop. */
const controls = (item) => item.querySelectorAll(":scope > .more, :scope > .quote, :scope > .reactions > button");

export function mountMessageActions({ store, sync }, list) {
  let stop = null;
  let open = null;

  /** Makes `item` the list's one tab stop. */
  function setStop(item) {
    if (stop === item) return;
    if (stop) {
      stop.tabIndex = -1;
      for (const control of controls(stop)) control.tabIndex = -1;
    }
    stop = item;
    if (!item) return;
    item.tabIndex = 0;
    for (const control of controls(item)) control.tabIndex = 0;
  }

  function focusMessage(item) {
    setStop(item);
    item.focus();
  }

  /**
   * After the list changed: the tab stop stays on the message the user moved to (or on its new node, if it was
   * redrawn); until they move, and once it has gone, it is on the newest message.
   */
  function refresh() {
    const chosen = stop?.dataset.chosen === "true";
    if (chosen && stop.parentElement === list) return;
    const redrawn = chosen && stop.dataset.seq ? list.querySelector(`:scope > li.message[data-seq="${stop.dataset.seq}"]`) : null;
    if (redrawn) redrawn.dataset.chosen = "true";
    setStop(redrawn || items(list).at(-1) || null);
  }

  function canDelete(message) {
    const room = store.room(message.room);
    return message.sender === store.me || (room?.kind === "group" && (room.role === "owner" || room.role === "admin"));
  }

  function closeMenu({ refocus = false } = {}) {
    if (!open) return;
    const { item, menu } = open;
    open = null;
    const button = item.querySelector(":scope > .more");
    // Focused while the open menu still shows it: a hidden button takes no focus.
    if (refocus) button?.focus();
    menu.remove();
    item.classList.remove("menu-open");
    button?.setAttribute("aria-expanded", "false");
  }

  function openMenu(item) {
    closeMenu();
    const message = store.message(item.dataset.room, Number(item.dataset.seq));
    const button = item.querySelector(":scope > .more");
    if (!message || !button) return;
    const entry = (label, work, danger = false) =>
      h("button", { type: "button", role: "menuitem", tabindex: "-1", class: danger ? "danger" : null, onclick: work }, label);
    const given = new Set((message.reactions ?? []).filter((r) => r.users?.includes(store.me)).map((r) => r.emoji));
    const emoji = (symbol) =>
      h(
        "button",
        {
          type: "button", role: "menuitem", tabindex: "-1", class: `emoji${given.has(symbol) ? " given" : ""}`,
          "aria-label": given.has(symbol) ? `Take back your ${symbol}` : `React with ${symbol}`,
          onclick: act(() => react(message, symbol, !given.has(symbol))),
        },
        symbol,
      );
    const gone = Boolean(message.deletedAt);
    const menu = h(
      "div",
      { class: "menu", role: "menu", "aria-label": `Actions for ${describe(store, message)}` },
      gone ? null : h("div", { class: "emoji-row", role: "group", "aria-label": "React" }, ...commonEmoji.map(emoji)),
      gone ? null : entry("Reply", () => compose(message, "reply")),
      canEdit(message) ? entry("Edit", () => compose(message, "edit")) : null,
      message.text ? entry("Copy text", act(() => copy(message))) : null,
      canDelete(message) ? entry("Delete…", act(() => remove(item, message)), true) : null,
    );
    if (!menu.children.length) return toast("There is nothing to do with this message.");
    // Below the button, or above it for a message in the lower half of the view, so that the list does not clip it.
    const [shown, view] = [item.getBoundingClientRect(), list.getBoundingClientRect()];
    menu.classList.toggle("up", shown.top > view.top + view.height / 2);
    item.append(menu);
    item.classList.add("menu-open");
    button.setAttribute("aria-expanded", "true");
    open = { item, menu };
    setStop(item);
    menu.querySelector("[role=menuitem]").focus();
  }

  /**
   * A message redrawn while its menu is open (someone reacted, say) keeps the menu, and the keyboard's place in it:
   * answers whether it had one.
   */
  function carry(old, node) {
    if (open?.item !== old) return false;
    if (!node.querySelector(":scope > .more")) {
      closeMenu();
      return false;
    }
    const focused = open.menu.contains(document.activeElement) ? document.activeElement : null;
    node.append(open.menu);
    node.classList.add("menu-open");
    node.querySelector(":scope > .more").setAttribute("aria-expanded", "true");
    open.item = node;
    if (stop === old) setStop(node);
    focused?.focus();
    return true;
  }

  /** Only the sender edits a message, and only its text: not a call's entry, nor one of files alone. */
  const canEdit = (message) => message.sender === store.me && !message.deletedAt && !message.call && Boolean(message.text);

  /** Answers or edits the message in the composer, which takes the keyboard's focus. */
  function compose(message, kind) {
    closeMenu();
    store.setComposing({ room: message.room, seq: message.seq, kind });
  }

  async function react(message, symbol, on) {
    closeMenu({ refocus: true });
    await sync.react(message.room, message.seq, symbol, on);
  }

  async function copy(message) {
    closeMenu({ refocus: true });
    await navigator.clipboard.writeText(message.text);
    toast("Copied.");
  }

  async function remove(item, message) {
    closeMenu({ refocus: true });
    const sure = await confirmAction({
      title: "Delete this message?",
      text: `The ${describe(store, message)} goes for everyone in the room. This cannot be undone.`,
      action: "Delete",
    });
    if (!sure) return item.isConnected && item.querySelector(":scope > .more")?.focus();
    await sync.deleteMessage(message.room, message.seq);
    const redrawn = list.querySelector(`:scope > li.message[data-seq="${message.seq}"]`);
    if (redrawn) focusMessage(redrawn);
  }

  list.addEventListener("click", (event) => {
    const more = event.target.closest("button.more");
    if (!more) return;
    const item = more.closest("li.message");
    if (open?.item === item) closeMenu({ refocus: true });
    else openMenu(item);
  });

  list.addEventListener("focusin", (event) => {
    const item = event.target.closest("li.message");
    if (!item || item.parentElement !== list) return;
    for (const other of list.querySelectorAll(":scope > li[data-chosen]")) delete other.dataset.chosen;
    item.dataset.chosen = "true";
    setStop(item);
  });

  list.addEventListener("keydown", (event) => {
    if (open?.menu.contains(event.target)) return menuKey(event);
    if (!event.target.matches("li.message")) return;
    const all = items(list);
    const at = all.indexOf(event.target);
    const to = { ArrowUp: at - 1, ArrowDown: at + 1, Home: 0, End: all.length - 1 }[event.key];
    if (to !== undefined) {
      event.preventDefault();
      if (all[to]) focusMessage(all[to]);
    } else if (event.key === "Enter" || event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
      event.preventDefault();
      openMenu(event.target);
    }
  });

  function menuKey(event) {
    const entries = [...open.menu.querySelectorAll("[role=menuitem]")];
    const at = entries.indexOf(document.activeElement);
    const next = { ArrowDown: (at + 1) % entries.length, ArrowUp: (at - 1 + entries.length) % entries.length, Home: 0, End: entries.length - 1 };
    // Along the row of emoji, the left and right arrows move too.
    if (document.activeElement.classList.contains("emoji")) Object.assign(next, { ArrowRight: next.ArrowDown, ArrowLeft: next.ArrowUp });
    const to = next[event.key];
    if (to !== undefined) {
      event.preventDefault();
      entries[to].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeMenu({ refocus: true });
    } else if (event.key === "Tab") {
      closeMenu();
    }
  }

  // A click anywhere else closes the menu.
  document.addEventListener("click", (event) => {
    if (open && !open.item.contains(event.target)) closeMenu();
  });

  return { refresh, focusMessage, closeMenu, carry };
}
