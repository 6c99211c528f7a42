// Reactions: the emoji the actions menu offers, and the chips under a message, one per emoji with its count. A chip
// is pressed when this user gave that emoji, and pressing it gives or takes back theirs.

import { h } from "../dom.js";

/** The emoji offered in a message's actions menu. */
export const commonEmoji = Object.freeze(["👍", "❤️", "😂", "🎉", "😮", "😢"]);

/** What a chip says to a screen reader: "👍 2 reactions, including you; press to remove yours". */
export function chipLabel(reaction, mine) {
  const count = reaction.users?.length ?? reaction.count;
  const counted = `${reaction.emoji} ${count} reaction${count === 1 ? "" : "s"}`;
  return mine ? `${counted}, including you; press to remove yours` : `${counted}; press to add yours`;
}

/** The chips of a message's reactions, or null when it has none. */
export function reactionsNode(store, message) {
  const reactions = (message.reactions ?? []).filter((reaction) => (reaction.users?.length ?? reaction.count) > 0);
  if (!reactions.length) return null;
  return h(
    "div",
    { class: "reactions", role: "group", "aria-label": "Reactions" },
    ...reactions.map((reaction) => {
      const mine = (reaction.users ?? []).includes(store.me);
      return h(
        "button",
        { type: "button", class: `reaction${mine ? " mine" : ""}`, tabindex: "-1", "aria-pressed": String(mine), "aria-label": chipLabel(reaction, mine), dataset: { emoji: reaction.emoji } },
        h("span", { "aria-hidden": "true" }, `${reaction.emoji} ${reaction.users?.length ?? reaction.count}`),
      );
    }),
  );
}
