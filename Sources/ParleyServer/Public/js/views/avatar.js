// Faces of people and groups: a user's picture where they have set one, else their initials on a colour their id
// picks, the same in every client. The initials are drawn by the stylesheet from data-initials (a ::before), so that
// they add nothing to the text of what they sit in; a face is decorative (alt="", aria-hidden), since a name is
// always beside it. Colours are classes (hue-0 to hue-7): the Content-Security-Policy refuses style attributes.

import { h } from "../dom.js";

const hues = 8;

/** Up to two letters for a name: the first letters of its first and last words ("Ada King" → "AK", "bob" → "B"). */
export function initials(name) {
  const words = String(name ?? "").trim().split(/\s+/).filter(Boolean);
  // Code points, so that a name starting with an emoji or a letter outside the BMP keeps it whole.
  const first = (word) => [...word][0] ?? "";
  const letters = words.length > 1 ? first(words[0]) + first(words.at(-1)) : first(words[0] ?? "");
  return letters.toLocaleUpperCase() || "?";
}

/** One of the palette's colours for an id, by a string hash: deterministic, and spread over the palette. */
export function hueOf(id) {
  let hash = 0;
  for (const char of String(id)) hash = (Math.imul(hash, 31) + char.codePointAt(0)) >>> 0;
  return hash % hues;
}

/** What a face shows: redrawing one whose key is unchanged is skipped, so that its picture is not loaded again. */
const keyOf = ({ name, avatar }) => `${initials(name)}|${avatar ?? ""}`;

/**
 * A face for `{id, name, avatar?}` (a user, or a group as {id, name} with `group` among the classes). `classes` adds
 * the size ("small", "large") and the like.
 */
export function avatarNode(who, classes = "") {
  const node = h("span", {
    class: `avatar hue-${hueOf(who.id)}${classes ? ` ${classes}` : ""}${who.avatar ? " pictured" : ""}`,
    "aria-hidden": "true",
    dataset: { initials: initials(who.name), key: keyOf(who) },
  });
  if (who.avatar) {
    // A picture that fails to load (gone since the user was loaded) leaves the initials.
    const failed = () => {
      image.remove();
      node.classList.remove("pictured");
    };
    const image = h("img", { src: who.avatar, alt: "", loading: "lazy", decoding: "async", onerror: failed });
    node.append(image);
  }
  return node;
}

/** Replaces a face by one for `who` if what it shows has changed; answers the face now in its place. */
export function refreshAvatar(node, who, classes = "") {
  if (node.dataset.key === keyOf(who)) return node;
  const fresh = avatarNode(who, classes);
  node.replaceWith(fresh);
  return fresh;
}

/** A user as the store holds them, or by the name the store gives them ("Someone") when it holds no such user. */
export const personOf = (store, id) => store.user(id) ?? { id, name: store.nameOf(id) };

/** A user's face from the store. */
export const userAvatar = (store, id, classes = "") => avatarNode(personOf(store, id), classes);
