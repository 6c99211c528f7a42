// The files of a message, as the conversation shows them: images inline, scaled to fit and fetched only as they
// come into view, and every other file as a chip with its name, its size and a download button. A pending message's
// files show how far each upload has gone.

import { atEnd, h } from "../dom.js";
import { formatSize, isImage } from "../files.js";
import { act } from "./feedback.js";

export function mountAttachments({ files }, list) {
  // Images are fetched when they come within a screen of the list's view, once each.
  const lazy = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        lazy.unobserve(entry.target);
        load(entry.target);
      }
    },
    { root: list, rootMargin: "100% 0px" },
  );

  function load(figure) {
    const img = figure.querySelector("img");
    files
      .imageURL(figure.dataset.file)
      .then((url) => {
        // An image that grows the list keeps its end in view, if it was.
        const follow = atEnd(list);
        img.addEventListener("load", () => {
          figure.classList.add("loaded");
          if (follow) list.scrollTop = list.scrollHeight;
        }, { once: true });
        img.src = url;
      })
      .catch((error) => {
        figure.classList.add("failed");
        img.alt = `${figure.dataset.name} could not be shown: ${error.message}`;
      });
  }

  function chip(ref, ...extra) {
    return h(
      "span",
      { class: "file chip", dataset: { file: ref.id ?? "" } },
      h("span", { class: "name", title: ref.name }, ref.name),
      h("span", { class: "size" }, formatSize(ref.size)),
      ...extra,
    );
  }

  /** A stored message's files. */
  function filesNode(refs) {
    return h(
      "div",
      { class: "files" },
      refs.map((ref) => {
        if (!isImage(ref.contentType)) {
          return chip(ref, h("button", { type: "button", class: "link download", "aria-label": `Download ${ref.name}`, dataset: { file: ref.id } }, "download"));
        }
        const figure = h("figure", { class: "file image", dataset: { file: ref.id, name: ref.name } }, h("img", { alt: ref.name, title: `${ref.name}, ${formatSize(ref.size)}` }));
        lazy.observe(figure);
        return figure;
      }),
    );
  }

  /** A pending message's files, with a progress bar for each upload under way. */
  function pendingFilesNode(attached, progress, failed) {
    return h(
      "div",
      { class: "files" },
      attached.map(({ file, uploaded }, index) =>
        chip(
          { name: file.name || "file", size: file.size },
          uploaded || failed
            ? null
            : h("progress", { max: 1, value: progress[index] ?? 0, dataset: { index }, "aria-label": `Uploading ${file.name || "file"}` }),
        ),
      ),
    );
  }

  /** Moves a pending file's progress bar, in place. */
  function showProgress(node, index, fraction) {
    const bar = node?.querySelector(`progress[data-index="${index}"]`);
    if (bar) bar.value = fraction;
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button.download");
    if (!button) return;
    const ref = { id: button.dataset.file, name: button.closest(".chip").querySelector(".name").textContent };
    act(() => files.save(ref))();
  });

  return { filesNode, pendingFilesNode, showProgress };
}
