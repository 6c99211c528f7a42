// The "New messages" divider above the first message the user had not read when they opened the room, and the
// "Jump to unread" button that shows while the divider is scrolled out of view above.

import { $, h } from "../dom.js";

export function mountUnread(list, { focusMessage }) {
  const jump = $("#jump-unread");
  const divider = h("li", { id: "unread-divider" }, "New messages");
  const watch = new IntersectionObserver(
    ([entry]) => {
      jump.hidden = entry.isIntersecting || entry.boundingClientRect.bottom > entry.rootBounds.top;
    },
    { root: list },
  );

  jump.addEventListener("click", () => {
    divider.scrollIntoView({ block: "center" });
    jump.hidden = true;
    const first = divider.nextElementSibling;
    if (first?.classList.contains("message")) focusMessage(first);
  });

  return {
    /** Puts the divider above `node`, the first unread message. */
    place(node) {
      list.insertBefore(divider, node);
      watch.observe(divider);
    },
    get placed() {
      return divider.isConnected;
    },
    clear() {
      watch.unobserve(divider);
      divider.remove();
      jump.hidden = true;
    },
  };
}
