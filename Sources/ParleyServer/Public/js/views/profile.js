// The signed-in user's own face atop the room list, and their picture: clicking it opens a menu to choose a new
// picture (a PNG, JPEG or WebP of at most 1 MiB, checked here before it goes and by the server again) or to remove
// the one they have. This page shows the change at once; others see it when they next load this user (the room
// list, a room's members).

import { $ } from "../dom.js";
import { formatSize, imageTypeOf } from "../files.js";
import { refreshAvatar } from "./avatar.js";
import { act, toast } from "./feedback.js";

const pictureTypes = new Set(["image/png", "image/jpeg", "image/webp"]);
const maxPictureBytes = 1 << 20;

/** Why the server would refuse a file as a picture, in words, or null when it would take it. */
async function pictureProblem(file) {
  if (file.size > maxPictureBytes) return `That picture is ${formatSize(file.size)}: a picture may be at most 1.0 MB.`;
  if (!pictureTypes.has(await imageTypeOf(file))) return "A picture must be a PNG, JPEG or WebP image.";
  return null;
}

export function mountProfile({ api, store }) {
  const button = $("#profile");
  const menu = $("#profile-menu");
  const input = $("#avatar-input");

  function draw() {
    const user = store.user(store.me);
    if (!user) return;
    refreshAvatar(button.querySelector(".avatar"), user);
    button.setAttribute("aria-label", `${user.name}, @${user.username}: change your picture`);
    $("#avatar-remove").hidden = !user.avatar;
  }

  function showMenu(shown) {
    menu.hidden = !shown;
    button.setAttribute("aria-expanded", String(shown));
    if (shown) menu.querySelector("button:not([hidden])").focus();
  }

  button.addEventListener("click", () => showMenu(menu.hidden));
  // A click anywhere else, or Escape, closes the menu.
  document.addEventListener("click", (event) => {
    if (!menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) showMenu(false);
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    showMenu(false);
    button.focus();
  });

  $("#avatar-change").addEventListener("click", () => {
    showMenu(false);
    input.click();
  });

  input.addEventListener(
    "change",
    act(async () => {
      const [file] = input.files;
      // Cleared, so that choosing the same file again is a change too.
      input.value = "";
      if (!file) return;
      // The user's mistake, told to them; not a failure of the page's, so not logged as one.
      const problem = await pictureProblem(file);
      if (problem) return toast(problem);
      store.addUsers([await api.setAvatar(file)]);
    }),
  );

  $("#avatar-remove").addEventListener(
    "click",
    act(async () => {
      showMenu(false);
      store.addUsers([await api.removeAvatar()]);
    }),
  );

  store.on("me", draw);
  store.on("users", ({ ids }) => ids.includes(store.me) && draw());
}
