// Signing in and signing up, two forms that a link switches between, and signing out. Sign-up shows the server's
// rules for each field up front (ParleyCore's Limits and Validate) and checks them before it asks; whatever is
// still wrong, by this page's checks or the server's answer, is said beside the field it is about.

import { $ } from "../dom.js";
import { act } from "./feedback.js";

const usernamePattern = /^[a-z0-9._-]{3,32}$/;

/** What is wrong with a sign-up's fields by the server's rules, {field: words}; empty when nothing is. */
function signUpProblems({ username, name, password }) {
  const problems = {};
  if (username.length < 3 || username.length > 32) problems.username = "Use 3 to 32 characters.";
  else if (!usernamePattern.test(username.toLowerCase())) problems.username = "Use only letters a–z, digits, “.”, “_” and “-”.";
  if (name.length === 0) problems.name = "Say what others should call you.";
  else if ([...name].length > 64) problems.name = "Use at most 64 characters.";
  if ([...password].length < 8) problems.password = "Use at least 8 characters.";
  else if (new TextEncoder().encode(password).length > 72) problems.password = "Use at most 72 bytes (fewer accented or other non-Latin letters).";
  return problems;
}

/** The words of a server error, as a sentence about the field it names ("username must…" → "Username must…."). */
function sentence(message) {
  const text = String(message).replace(/^(username|password|name) /, "");
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function mountAuth({ api, live, memory, store, sync }) {
  const signIn = $("#sign-in-form");
  const signUp = $("#sign-up-form");

  /** Shows each problem beside its field, and the rest (`form`) below the fields; clears the others. */
  function showProblems(form, problems) {
    for (const input of form.querySelectorAll("input")) {
      const problem = problems[input.name];
      const note = $(`#${input.id}-error`);
      note.textContent = problem ?? "";
      note.hidden = !problem;
      if (problem) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    const general = form.querySelector(".form-error");
    general.textContent = problems.form ?? "";
    general.hidden = !problems.form;
    form.querySelector("[aria-invalid=true]")?.focus();
  }

  /** Where the server's refusal belongs: beside its field, or below the form. */
  function problemsOf(error, fields) {
    if (error.code === "unauthorized") return { password: "Wrong username or password." };
    if (error.code === "conflict") return { username: "That username is taken: try another." };
    if (error.field && fields.includes(error.field)) return { [error.field]: sentence(error.message) };
    return { form: error.message };
  }

  function showView(view) {
    const up = view === "sign-up";
    const [from, to] = up ? [signIn, signUp] : [signUp, signIn];
    // What was typed as the username goes along.
    if (from.username.value && !to.username.value) to.username.value = from.username.value;
    signIn.hidden = up;
    signUp.hidden = !up;
    showProblems(from, {});
    (to.username.value ? to.querySelector("input:not([name=username])") : to.username).focus();
  }

  $("#to-sign-up").addEventListener("click", (event) => {
    event.preventDefault();
    showView("sign-up");
  });
  $("#to-sign-in").addEventListener("click", (event) => {
    event.preventDefault();
    showView("sign-in");
  });

  /**
   * Submits a form: its fields' values (trimmed, but for the password) are checked by `check` first, which answers
   * the problems found; then `request` goes. Its refusal is shown on the form, and any other failure in a toast.
   */
  const submit = (form, check, request) =>
    act(async (event) => {
      event.preventDefault();
      const values = Object.fromEntries([...form.querySelectorAll("input")].map((input) => [input.name, input.type === "password" ? input.value : input.value.trim()]));
      const problems = check(values);
      if (Object.keys(problems).length) return showProblems(form, problems);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await request(values);
      } catch (error) {
        if (error.status === undefined) throw error;
        return showProblems(form, problemsOf(error, Object.keys(values)));
      } finally {
        button.disabled = false;
      }
      form.reset();
      showProblems(form, {});
      await sync.start();
    });

  const filledIn = ({ username, password }) => ({
    ...(username ? {} : { username: "Enter your username." }),
    ...(password ? {} : { password: "Enter your password." }),
  });
  signIn.addEventListener("submit", submit(signIn, filledIn, ({ username, password }) => api.login(username, password)));
  signUp.addEventListener("submit", submit(signUp, signUpProblems, ({ username, password, name }) => api.register(username, password, name)));

  $("#sign-out").addEventListener(
    "click",
    act(async () => {
      // What this browser kept for the user (drafts, the open room) goes with them.
      memory.forget();
      live.stop();
      await api.logout();
    }),
  );

  store.on("me", ({ user }) => {
    $("#auth").hidden = user !== null;
    $("#app").hidden = user === null;
    if (user === null) return showView(location.hash === "#sign-up" ? "sign-up" : "sign-in");
    $("#me").textContent = user.name;
    $("#me-username").textContent = `@${user.username}`;
    $("#me").title = `@${user.username}`;
  });

  store.on("connection", ({ online, node }) => {
    const user = store.user(store.me);
    if (online && user) $("#me").title = `@${user.username} on ${node}`;
  });
}
