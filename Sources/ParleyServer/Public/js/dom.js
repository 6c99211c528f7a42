// Finding and making elements. Handlers are listeners, never attributes, and looks are classes, never a style
// attribute: the Content-Security-Policy refuses inline script and style.

export const $ = (selector) => document.querySelector(selector);

/** Creates an element: h("button", {class: "x", onclick}, "text", child…). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** Whether a scrolled list shows its end (within 60px), so that what is added there should stay in view. */
export const atEnd = (list) => list.scrollHeight - list.scrollTop - list.clientHeight < 60;
