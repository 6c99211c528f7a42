// Signing in, signing up and signing out, and who is signed in (the name atop the room list). The sign-in form
// shows when nobody is signed in, the app once somebody is.

import { $ } from "../dom.js";
import { act } from "./feedback.js";

export function mountAuth({ api, live, store, sync }) {
  $("#auth-form").addEventListener(
    "submit",
    act(async (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      const username = form.get("username").trim();
      const password = form.get("password");
      if (event.submitter?.value === "signup") {
        await api.register(username, password, form.get("name").trim() || username);
      } else {
        await api.login(username, password);
      }
      event.target.reset();
      await sync.start();
    }),
  );

  $("#sign-out").addEventListener(
    "click",
    act(async () => {
      live.stop();
      await api.logout();
    }),
  );

  store.on("me", ({ user }) => {
    $("#auth").hidden = user !== null;
    $("#app").hidden = user === null;
    if (user === null) return $("#auth-form [name=username]").focus();
    $("#me").textContent = user.name;
    $("#me").title = `@${user.username}`;
  });

  store.on("connection", ({ online, node }) => {
    const user = store.user(store.me);
    if (online && user) $("#me").title = `@${user.username} on ${node}`;
  });
}
