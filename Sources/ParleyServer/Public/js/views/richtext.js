// A message's text as the conversation shows it: the words as they were written, with web and mail addresses made
// into links and the reader's own @username marked. Only http, https and mailto addresses become links, checked by the URL parser as well as matched, so
// that no `javascript:` or `data:` address is ever one; a link opens in a new tab with no opener and no referrer.
// It is built of text nodes and elements, never parsed as HTML.

import { h } from "../dom.js";

const schemes = new Set(["http:", "https:", "mailto:"]);
// An address runs to the next space or angle bracket or quote; what ends a sentence around it is taken off again.
const candidates = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;

/** The link an address makes, or null when it is no address a link may go to. */
export function safeURL(text) {
  try {
    const url = new URL(text);
    return schemes.has(url.protocol) ? url : null;
  } catch {
    return null;
  }
}

const count = (text, char) => text.split(char).length - 1;

/**
 * An address without the punctuation that ends the sentence around it. Closing brackets it opened itself stay:
 * "https://en.wikipedia.org/wiki/Swift_(language)".
 */
function trimmed(address) {
  while (address) {
    const last = address.at(-1);
    if (!".,;:!?'’”)]".includes(last)) break;
    if (last === ")" && count(address, "(") >= count(address, ")")) break;
    if (last === "]" && count(address, "[") >= count(address, "]")) break;
    address = address.slice(0, -1);
  }
  return address;
}

/** `text` as a regular expression that matches it literally. */
export const escaped = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Finds `mention` ("@ada", in any case) as a whole word: not inside a longer username or a mail address. */
export const mentionPattern = (mention) => new RegExp(`(?<![\\p{L}\\p{N}_.@-])${escaped(mention)}(?![\\p{L}\\p{N}_-]|\\.[\\p{L}\\p{N}])`, "giu");

/** Plain text with each `mention` in a <span class="mention">. */
function marked(text, mention) {
  if (!mention) return [text];
  const pattern = mentionPattern(mention);
  const nodes = [];
  let from = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > from) nodes.push(text.slice(from, match.index));
    nodes.push(h("span", { class: "mention" }, match[0]));
    from = match.index + match[0].length;
  }
  if (from < text.length) nodes.push(text.slice(from));
  return nodes;
}

/** The nodes that show `text`: strings, an <a> for each address that may be a link, and the reader's `mention` marked. */
export function richText(value, mention = null) {
  const text = String(value);
  const nodes = [];
  let from = 0;
  for (const match of text.matchAll(candidates)) {
    const address = trimmed(match[0]);
    const url = safeURL(address);
    if (!url) continue;
    if (match.index > from) nodes.push(...marked(text.slice(from, match.index), mention));
    nodes.push(h("a", { href: url.href, target: "_blank", rel: "noopener noreferrer" }, address));
    from = match.index + address.length;
  }
  if (from < text.length) nodes.push(...marked(text.slice(from), mention));
  return nodes;
}
