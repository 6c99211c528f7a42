// How the conversation reads from top to bottom: each day's messages and calls under a separator that names the day
// ("Today", "Yesterday", else the date), and a sender's messages less than five minutes apart in one run, whose face
// and name show once. `arrange` goes over the drawn items after each change: it adds, moves or removes separators and marks
// the messages that continue a run, and every message keeps its node.

import { h } from "../dom.js";
import { dayOf } from "./message.js";

const runGap = 5 * 60 * 1000;

/** "Today", "Yesterday", or the date ("Monday 3 March", with the year when it is not this one). */
export function dayLabel(day, now = new Date()) {
  if (day === dayOf(now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (day === dayOf(yesterday)) return "Yesterday";
  const [year, month, date] = day.split("-").map(Number);
  const options = { weekday: "long", day: "numeric", month: "long", year: year === now.getFullYear() ? undefined : "numeric" };
  return new Date(year, month - 1, date).toLocaleDateString([], options);
}

export function arrange(list) {
  const separators = new Map([...list.querySelectorAll(":scope > li.day")].map((node) => [node.dataset.day, node]));
  let day = null;
  let previous = null;
  for (const node of list.querySelectorAll(":scope > li.message, :scope > li.call-entry")) {
    const before = node.previousElementSibling;
    // The unread divider starts a run anew, and sits below its day's separator.
    const divided = before?.id === "unread-divider";
    if (node.dataset.day !== day) {
      day = node.dataset.day;
      const separator = separators.get(day) ?? h("li", { class: "day", dataset: { day } });
      separators.delete(day);
      const label = dayLabel(day);
      if (separator.textContent !== label) separator.textContent = label;
      const anchor = divided ? before : node;
      if (anchor.previousElementSibling !== separator) list.insertBefore(separator, anchor);
      previous = null;
    }
    // A call's line stands alone, and the message after it starts a run anew.
    const messages = previous?.classList.contains("message") && node.classList.contains("message");
    const continues = messages && !divided && previous.dataset.sender === node.dataset.sender && node.dataset.at - previous.dataset.at < runGap;
    node.classList.toggle("continued", continues);
    previous = node;
  }
  for (const stale of separators.values()) stale.remove();
}
