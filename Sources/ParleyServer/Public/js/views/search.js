// Searching the messages of every room of this user's: the sidebar's Search button opens a panel in place of the
// room list, whose results (each with its room, sender, time, and the words found marked) page on with "Load more".
// Choosing one opens its room at that message, loading the history up to it. Escape or Close gives the rooms back.

import { $, h } from "../dom.js";
import { clock } from "./message.js";
import { act } from "./feedback.js";
import { escaped } from "./richtext.js";

/**
 * `text` as nodes, each word of `query` marked where it starts a word (the server finds words by their start):
 * text nodes and <mark>s, never HTML.
 */
export function highlighted(text, query) {
  const words = query.split(/\s+/).filter(Boolean).sort((a, b) => b.length - a.length);
  if (!words.length) return [text];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escaped).join("|")})`, "giu");
  const nodes = [];
  let from = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > from) nodes.push(text.slice(from, match.index));
    nodes.push(h("mark", {}, match[0]));
    from = match.index + match[0].length;
  }
  if (from < text.length) nodes.push(text.slice(from));
  return nodes;
}

const dayAndTime = (date) => {
  const when = new Date(date);
  const today = new Date().toDateString() === when.toDateString();
  return today ? clock(when) : `${when.toLocaleDateString([], { day: "numeric", month: "short" })} ${clock(when)}`;
};

export function mountSearch({ store, sync }) {
  const sidebar = $("#sidebar");
  const panel = $("#message-search");
  const field = $("#message-query");
  const results = $("#message-results");
  const more = $("#more-results");
  const status = $("#message-search-status");
  const toggle = $("#open-search");
  // The query whose results show, and the offset of their next page (null at their end).
  let shownQuery = "";
  let next = null;
  let timer;

  function resultNode(message, query) {
    const room = store.room(message.room);
    const who = message.sender === store.me ? "You" : store.nameOf(message.sender);
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "result", dataset: { room: message.room, seq: message.seq } },
        h("span", { class: "result-room" }, room?.name ?? "A room"),
        h("time", { datetime: message.sentAt }, dayAndTime(message.sentAt)),
        h("span", { class: "result-sender" }, who),
        h("span", { class: "result-text" }, ...highlighted(message.text ?? "", query)),
      ),
    );
  }

  /** Shows the first page of results for the field's words, or the next page of those shown. */
  async function search({ again = false } = {}) {
    const query = again ? shownQuery : field.value.trim();
    if (!again) next = 0;
    if (!query) {
      shownQuery = "";
      results.replaceChildren();
      more.hidden = true;
      status.textContent = "";
      return;
    }
    const page = await sync.search(query, next ?? 0);
    // A later search, started while this one was on its way, has the last word.
    if (!again && query !== field.value.trim()) return;
    // The senders' names, of groups whose members this page has not loaded yet.
    const unknown = new Set(page.messages.filter((message) => !store.user(message.sender)).map((message) => message.room));
    await Promise.all([...unknown].filter((room) => store.room(room)).map((room) => sync.loadMembers(room).catch(() => {})));
    shownQuery = query;
    next = page.next ?? null;
    const nodes = page.messages.map((message) => resultNode(message, query));
    if (again) results.append(...nodes);
    else results.replaceChildren(...nodes);
    more.hidden = next === null;
    const count = results.children.length;
    status.textContent = count ? `${count}${next === null ? "" : "+"} message${count === 1 ? "" : "s"} found` : "No messages match";
  }

  function open() {
    panel.hidden = false;
    sidebar.classList.add("searching");
    toggle.setAttribute("aria-expanded", "true");
    field.focus();
  }

  function close() {
    panel.hidden = true;
    sidebar.classList.remove("searching");
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  }

  toggle.addEventListener("click", () => (panel.hidden ? open() : close()));
  $("#close-search").addEventListener("click", close);
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault();
    close();
  });

  field.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(act(search), 300);
  });
  $("#message-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    act(search)();
  });
  more.addEventListener("click", act(() => search({ again: true })));

  results.addEventListener("click", (event) => {
    const result = event.target.closest("button.result");
    if (result) act(() => sync.reveal(result.dataset.room, Number(result.dataset.seq)))();
  });

  // Signing out or in as someone else: nothing of the last search stays.
  store.on("me", () => {
    field.value = "";
    shownQuery = "";
    results.replaceChildren();
    status.textContent = "";
    more.hidden = true;
  });
}
