// Parley's web client: sign in, rooms, chat and calls. Plain ES modules, no build step. The REST API is in api.js,
// the realtime protocol in live.js, WebRTC in call.js; this file holds the state and draws it.

import { Api, uuid } from "./api.js";
import { Call } from "./call.js";
import { Live } from "./live.js";

const $ = (selector) => document.querySelector(selector);

/**
 * Creates an element: h("button", {class: "x", onclick}, "text", child…). Handlers are listeners, never attributes,
 * and looks are classes, never a style attribute: the Content-Security-Policy refuses inline script and style.
 */
function h(tag, attributes = {}, ...children) {
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

const params = new URLSearchParams(location.search);
const api = new Api();
const live = new Live(api, { node: params.get("node") });

const state = {
  rooms: new Map(),
  users: new Map(),
  contacts: [],
  presence: new Map(),
  current: null,
  messages: new Map(),
  pending: new Map(),
  exhausted: new Set(),
  members: new Map(),
  typing: new Map(),
  call: null,
  incoming: null,
};

const me = () => api.user?.id;
const nameOf = (user) => state.users.get(user)?.name ?? "Someone";

// MARK: Feedback

let toastTimer;
function toast(message) {
  const box = $("#toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 6000);
}

/** Runs an action from the interface, showing any failure in words. */
function act(work) {
  return async (...args) => {
    try {
      await work(...args);
    } catch (error) {
      console.error(error);
      toast(error.message || "Something went wrong.");
    }
  };
}

/** Ring tones from WebAudio: a caller hears a ringback, a callee a ring. */
const tone = {
  context: null,
  timer: null,
  start(kind) {
    this.stop();
    try {
      this.context ??= new AudioContext();
      const beep = () => {
        const oscillator = this.context.createOscillator();
        const gain = this.context.createGain();
        oscillator.frequency.value = kind === "ring" ? 880 : 440;
        gain.gain.value = 0.05;
        oscillator.connect(gain).connect(this.context.destination);
        oscillator.start();
        oscillator.stop(this.context.currentTime + (kind === "ring" ? 0.4 : 1.2));
      };
      beep();
      this.timer = setInterval(beep, kind === "ring" ? 1500 : 4000);
    } catch {
      // No audio output: the prompt on screen is enough.
    }
  },
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  },
};

// MARK: Signing in

function showAuth() {
  $("#app").hidden = true;
  $("#auth").hidden = false;
  $("#auth-form [name=username]").focus();
}

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
    await start();
  }),
);

$("#sign-out").addEventListener(
  "click",
  act(async () => {
    live.stop();
    await api.logout();
  }),
);

api.addEventListener("signedout", () => {
  live.stop();
  state.call?.close();
  location.reload();
});

async function start() {
  $("#auth").hidden = true;
  $("#app").hidden = false;
  $("#me").textContent = api.user.name;
  $("#me").title = `@${api.user.username}`;
  state.users.set(api.user.id, api.user);
  await Promise.all([loadRooms(), loadContacts()]);
  live.start();
}

// MARK: Rooms

async function loadRooms() {
  const rooms = await api.request("GET", "/api/rooms");
  for (const room of rooms) addRoom(room);
  renderRooms();
}

function addRoom(room) {
  state.rooms.set(room.id, room);
  if (room.peer) state.users.set(room.peer.id, room.peer);
  live.follow(room.id, room.lastSeq);
}

async function loadContacts() {
  state.contacts = await api.request("GET", "/api/contacts");
  for (const contact of state.contacts) state.users.set(contact.user.id, contact.user);
}

async function refreshPresence() {
  for (const { user, online } of await api.request("GET", "/api/presence")) state.presence.set(user, online);
  renderRooms();
  renderRoomStatus();
}

const activity = (room) => room.lastMessage?.sentAt ?? room.createdAt;

function renderRooms() {
  const rooms = [...state.rooms.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
  $("#rooms").replaceChildren(
    ...rooms.map((room) => {
      const online = room.peer ? state.presence.get(room.peer.id) === true : null;
      const last = room.lastMessage;
      const preview = last ? (last.text ?? "message deleted") : "No messages yet";
      return h(
        "li",
        {},
        h(
          "button",
          {
            class: `room${room.id === state.current ? " current" : ""}`,
            dataset: { room: room.id },
            "aria-label": `${room.name}${online === null ? "" : online ? ", online" : ", offline"}${room.unread ? `, ${room.unread} unread` : ""}${room.meeting ? ", call in progress" : ""}`,
            onclick: act(() => openRoom(room.id)),
          },
          online === null ? h("span", { class: "dot group", "aria-hidden": "true" }) : h("span", { class: `dot${online ? " online" : ""}`, "aria-hidden": "true" }),
          h("span", { class: "name" }, room.name),
          room.meeting ? h("span", { class: "badge-meeting", title: "Call in progress" }, "● call") : null,
          room.unread ? h("span", { class: "unread" }, String(room.unread)) : null,
          h("span", { class: "last" }, last && room.kind === "group" ? `${nameOf(last.sender)}: ${preview}` : preview),
        ),
      );
    }),
  );
}

async function openRoom(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  state.current = id;
  document.body.classList.add("in-room");
  $("#room-title").textContent = room.name;
  $("#composer").hidden = false;
  $("#call-button").hidden = false;
  $("#members").hidden = room.kind !== "group";
  $("#typing").textContent = "";
  renderRoomStatus();
  renderRooms();
  if (!state.messages.has(id)) {
    state.messages.set(id, new Map());
    await loadOlder(id);
  }
  renderMessages(true);
  $("#message-input").focus();
  const detail = await api.request("GET", `/api/rooms/${id}`);
  state.members.set(id, detail.members);
  for (const member of detail.members) state.users.set(member.user.id, member.user);
  markRead(id);
  renderMessages();
}

function renderRoomStatus() {
  const room = state.rooms.get(state.current);
  if (!room) return;
  $("#room-status").textContent = room.peer ? (state.presence.get(room.peer.id) ? "online" : "offline") : `${state.members.get(room.id)?.length ?? ""} members`;
}

$("#back").addEventListener("click", () => {
  state.current = null;
  document.body.classList.remove("in-room");
  renderRooms();
});

// MARK: Messages

function addMessage(message) {
  const messages = state.messages.get(message.room);
  if (messages) messages.set(message.seq, message);
}

/** Loads the page of history before the oldest message shown. */
async function loadOlder(room) {
  if (state.exhausted.has(room)) return;
  const messages = state.messages.get(room);
  const oldest = Math.min(...messages.keys(), Number.MAX_SAFE_INTEGER);
  const query = oldest === Number.MAX_SAFE_INTEGER ? "limit=50" : `before=${oldest}&limit=50`;
  const page = await api.request("GET", `/api/rooms/${room}/messages?${query}`);
  if (page.length < 50 || page[0]?.seq === 1) state.exhausted.add(room);
  for (const message of page) messages.set(message.seq, message);
}

$("#messages").addEventListener(
  "scroll",
  act(async () => {
    const list = $("#messages");
    if (list.scrollTop > 40 || !state.current || state.exhausted.has(state.current)) return;
    const before = list.scrollHeight;
    await loadOlder(state.current);
    renderMessages();
    list.scrollTop = list.scrollHeight - before;
  }),
);

function renderMessages(toBottom = false) {
  const list = $("#messages");
  const room = state.rooms.get(state.current);
  if (!room) return list.replaceChildren();
  const atBottom = toBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const messages = [...(state.messages.get(room.id)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  const pending = [...state.pending.entries()].filter(([, p]) => p.room === room.id);
  const others = (state.members.get(room.id) ?? []).filter((m) => m.user.id !== me());
  const seenUpTo = others.length ? Math.min(...others.map((m) => m.lastReadSeq)) : 0;
  const lastMine = messages.filter((m) => m.sender === me()).at(-1)?.seq;
  list.replaceChildren(
    ...messages.map((message) => {
      const mine = message.sender === me();
      return h(
        "li",
        { class: `message${mine ? " mine" : ""}${message.deletedAt ? " deleted" : ""}`, dataset: { seq: message.seq } },
        room.kind === "group" && !mine ? h("span", { class: "author" }, nameOf(message.sender)) : null,
        h("span", { class: "text" }, message.text ?? "message deleted"),
        h(
          "span",
          { class: "meta" },
          h("time", { datetime: message.sentAt }, new Date(message.sentAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
          mine ? h("span", { class: "state", dataset: { state: "sent" } }, message.seq <= seenUpTo && message.seq === lastMine ? "seen" : "sent") : null,
          mine && !message.deletedAt
            ? h("button", { class: "link delete", "aria-label": "Delete this message", onclick: act(() => deleteMessage(message)) }, "delete")
            : null,
        ),
      );
    }),
    ...pending.map(([clientId, p]) =>
      h(
        "li",
        { class: "message mine pending", dataset: { clientId } },
        h("span", { class: "text" }, p.text),
        h(
          "span",
          { class: "meta" },
          h("span", { class: "state", dataset: { state: p.state } }, p.state === "failed" ? `not sent: ${p.error}` : "sending…"),
          p.state === "failed" ? h("button", { class: "link retry", "aria-label": "Send this message again", onclick: () => trySend(clientId) }, "retry") : null,
        ),
      ),
    ),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

$("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#message-input");
  const text = input.value.trim();
  if (!text || !state.current) return;
  input.value = "";
  const clientId = uuid();
  state.pending.set(clientId, { room: state.current, text, state: "sending" });
  renderMessages(true);
  trySend(clientId);
});

$("#message-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("#composer").requestSubmit();
  }
});

let typingSent = 0;
$("#message-input").addEventListener("input", () => {
  if (!state.current || Date.now() - typingSent < 2500) return;
  typingSent = Date.now();
  live.notify({ type: "typing", room: state.current });
});

/** Sends (or resends, with the same clientId, so that the server stores it once) a pending message. */
async function trySend(clientId) {
  const pending = state.pending.get(clientId);
  if (!pending) return;
  pending.state = "sending";
  renderMessages();
  try {
    const message = live.online
      ? (await live.request({ type: "send", room: pending.room, clientId, text: pending.text })).message
      : await api.request("POST", `/api/rooms/${pending.room}/messages`, { clientId, text: pending.text });
    state.pending.delete(clientId);
    addMessage(message);
  } catch (error) {
    pending.state = "failed";
    pending.error = error.message;
  }
  renderMessages();
}

async function deleteMessage(message) {
  const deleted = await api.request("DELETE", `/api/rooms/${message.room}/messages/${message.seq}`);
  addMessage(deleted);
  renderMessages();
}

function markRead(room) {
  const summary = state.rooms.get(room);
  const seq = Math.max(0, ...(state.messages.get(room)?.keys() ?? []));
  if (!summary || seq === 0) return;
  summary.unread = 0;
  if (live.online) live.notify({ type: "read", room, seq });
  else api.request("POST", `/api/rooms/${room}/read`, { seq }).catch(() => {});
  renderRooms();
}

// MARK: Live events

live.addEventListener("online", ({ detail }) => {
  $("#offline-banner").hidden = true;
  // Which node holds the socket: shown to operators in the title, and read by the end-to-end tests.
  document.body.dataset.node = detail.node;
  $("#me").title = `@${api.user.username} on ${detail.node}`;
  refreshPresence().catch(() => {});
  // Back after a drop: sends cut off by it go again, with their clientIds.
  for (const [clientId, pending] of state.pending) if (pending.state === "failed") trySend(clientId);
  if (state.call?.joined) {
    state.call.enter().catch((error) => {
      toast(`The call could not be rejoined: ${error.message}`);
      state.call?.close();
    });
  }
});

live.addEventListener("offline", () => {
  $("#offline-banner").hidden = false;
});

live.addEventListener("signedout", () => api.forget());
live.addEventListener("failure", ({ detail }) => toast(detail.message));

live.addEventListener("message", ({ detail: message }) => {
  addMessage(message);
  if (message.sender === me()) {
    for (const [clientId, pending] of state.pending) if (clientId === message.clientId && pending.room === message.room) state.pending.delete(clientId);
  }
  const room = state.rooms.get(message.room);
  if (room) {
    room.lastMessage = message;
    room.lastSeq = Math.max(room.lastSeq, message.seq);
    if (message.sender !== me()) {
      if (message.room === state.current && !document.hidden) markRead(message.room);
      else room.unread += 1;
    }
  }
  clearTyping(message.room, message.sender);
  renderRooms();
  if (message.room === state.current) renderMessages();
});

live.addEventListener("message.deleted", ({ detail: message }) => {
  addMessage(message);
  const room = state.rooms.get(message.room);
  if (room?.lastMessage?.seq === message.seq) room.lastMessage = message;
  renderRooms();
  if (message.room === state.current) renderMessages();
});

live.addEventListener("typing", ({ detail }) => {
  if (detail.user === me()) return;
  const typing = state.typing.get(detail.room) ?? new Map();
  clearTimeout(typing.get(detail.user));
  typing.set(detail.user, setTimeout(() => clearTyping(detail.room, detail.user), 4000));
  state.typing.set(detail.room, typing);
  renderTyping();
});

function clearTyping(room, user) {
  const typing = state.typing.get(room);
  if (!typing?.has(user)) return;
  clearTimeout(typing.get(user));
  typing.delete(user);
  renderTyping();
}

function renderTyping() {
  const users = [...(state.typing.get(state.current)?.keys() ?? [])].map(nameOf);
  $("#typing").textContent = users.length ? `${users.join(", ")} ${users.length === 1 ? "is" : "are"} typing…` : "";
}

live.addEventListener("read", ({ detail }) => {
  const member = state.members.get(detail.room)?.find((m) => m.user.id === detail.user);
  if (member) member.lastReadSeq = Math.max(member.lastReadSeq, detail.seq);
  if (detail.room === state.current) renderMessages();
});

live.addEventListener("presence", ({ detail }) => {
  state.presence.set(detail.user, detail.online);
  renderRooms();
  renderRoomStatus();
});

live.addEventListener("room.added", ({ detail }) => {
  addRoom(detail.room);
  renderRooms();
  // A new contact's presence was announced to rooms this user was not in yet.
  loadContacts()
    .then(refreshPresence)
    .catch(() => {});
});

live.addEventListener("room.removed", ({ detail }) => {
  state.rooms.delete(detail.room);
  live.unfollow(detail.room);
  if (state.current === detail.room) {
    state.current = null;
    $("#room-title").textContent = "Pick a room";
    $("#composer").hidden = $("#call-button").hidden = $("#members").hidden = true;
    $("#messages").replaceChildren();
  }
  renderRooms();
});

for (const type of ["member.added", "member.removed"]) {
  live.addEventListener(type, ({ detail }) => {
    if (!state.members.has(detail.room)) return;
    api.request("GET", `/api/rooms/${detail.room}`).then((room) => {
      state.members.set(detail.room, room.members);
      state.rooms.set(detail.room, { ...state.rooms.get(detail.room), ...room.room });
      renderRooms();
      renderRoomStatus();
      if ($("#members-dialog").open) renderMembers();
    });
  });
}

// MARK: People and groups

let searchTimer;
$("#search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(act(search), 250);
});
$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act(search)();
});

async function search() {
  const query = $("#search").value.trim();
  if (!query) return $("#search-results").replaceChildren();
  const users = await api.request("GET", `/api/users?q=${encodeURIComponent(query)}`);
  const known = new Set(state.contacts.map((c) => c.user.id));
  $("#search-results").replaceChildren(
    ...users
      .filter((user) => user.id !== me())
      .map((user) =>
        h(
          "li",
          {},
          h("span", {}, `${user.name} `, h("span", { class: "muted" }, `@${user.username}`)),
          known.has(user.id)
            ? h("span", { class: "muted" }, "contact")
            : h("button", { class: "secondary", dataset: { add: user.username }, "aria-label": `Add ${user.name} as a contact`, onclick: act(() => addContact(user)) }, "Add"),
        ),
      ),
  );
}

async function addContact(user) {
  const contact = await api.request("POST", "/api/contacts", { username: user.username });
  state.users.set(user.id, user);
  await Promise.all([loadContacts(), loadRooms()]);
  await refreshPresence();
  $("#search").value = "";
  $("#search-results").replaceChildren();
  await openRoom(contact.room);
}

$("#new-group").addEventListener(
  "click",
  act(async () => {
    await loadContacts();
    $("#group-candidates").replaceChildren(
      ...(state.contacts.length
        ? state.contacts.map((c) => h("label", {}, h("input", { type: "checkbox", name: "member", value: c.user.id }), ` ${c.user.name}`))
        : [h("p", { class: "muted" }, "Add contacts first, then make a group with them.")]),
    );
    $("#group-dialog").showModal();
  }),
);

$("#group-dialog").addEventListener(
  "close",
  act(async () => {
    const dialog = $("#group-dialog");
    if (dialog.returnValue !== "create") return;
    const form = new FormData($("#group-form"));
    const detail = await api.request("POST", "/api/rooms", { name: form.get("name"), members: form.getAll("member") });
    $("#group-form").reset();
    addRoom(detail.room);
    state.members.set(detail.room.id, detail.members);
    renderRooms();
    await openRoom(detail.room.id);
  }),
);

$("#members").addEventListener(
  "click",
  act(async () => {
    const detail = await api.request("GET", `/api/rooms/${state.current}`);
    state.members.set(state.current, detail.members);
    renderMembers();
    $("#members-dialog").showModal();
  }),
);

function renderMembers() {
  const room = state.current;
  const members = state.members.get(room) ?? [];
  const myRole = members.find((m) => m.user.id === me())?.role ?? "member";
  const rank = { owner: 2, admin: 1, member: 0 };
  $("#member-list").replaceChildren(
    ...members.map((member) =>
      h(
        "li",
        {},
        h("span", { class: "name" }, member.user.name),
        myRole === "owner" && member.user.id !== me()
          ? h(
              "select",
              { "aria-label": `Role of ${member.user.name}`, onchange: act((event) => api.request("PATCH", `/api/rooms/${room}/members/${member.user.id}`, { role: event.target.value })) },
              ...["member", "admin", "owner"].map((role) => h("option", { value: role, selected: role === member.role }, role)),
            )
          : h("span", { class: "muted" }, member.role),
        rank[myRole] > rank[member.role]
          ? h("button", { class: "link", "aria-label": `Remove ${member.user.name}`, onclick: act(() => api.request("DELETE", `/api/rooms/${room}/members/${member.user.id}`)) }, "remove")
          : null,
      ),
    ),
  );
  const inRoom = new Set(members.map((m) => m.user.id));
  const candidates = state.contacts.filter((c) => !inRoom.has(c.user.id));
  $("#member-add").replaceChildren(...candidates.map((c) => h("option", { value: c.user.id }, c.user.name)));
  $("#member-add-button").disabled = candidates.length === 0 || rank[myRole] < 1;
}

$("#member-add-button").addEventListener(
  "click",
  act(async () => {
    await api.request("POST", `/api/rooms/${state.current}/members`, { userId: $("#member-add").value, role: "member" });
  }),
);

$("#leave-group").addEventListener(
  "click",
  act(async () => {
    await api.request("DELETE", `/api/rooms/${state.current}/members/${me()}`);
    $("#members-dialog").close();
  }),
);

// MARK: Calls

$("#call-button").addEventListener(
  "click",
  act(async () => {
    const room = state.rooms.get(state.current);
    const reply = await live.request({ type: "meeting.start", room: room.id });
    await beginCall(reply.meeting);
  }),
);

async function beginCall(meeting) {
  if (state.call) {
    if (state.call.id === meeting.id) return;
    throw new Error("You are already in a call. Leave it first.");
  }
  hideIncoming();
  const call = new Call(live, api, meeting);
  state.call = call;
  call.addEventListener("changed", renderCall);
  call.addEventListener("problem", ({ detail }) => toast(detail.message));
  call.addEventListener("closed", () => {
    tone.stop();
    state.call = null;
    $("#call").hidden = true;
    document.body.classList.remove("in-call");
    $("#grid").replaceChildren();
  });
  $("#call").hidden = false;
  document.body.classList.add("in-call");
  if (meeting.state === "ringing" && meeting.host === me()) tone.start("ringback");
  renderCall();
  try {
    await call.join();
  } catch (error) {
    call.close();
    throw error;
  }
  renderCall();
}

function renderCall() {
  const call = state.call;
  if (!call) return;
  const room = state.rooms.get(call.meeting.room);
  const others = [...call.attendees.values()].filter((a) => a.conn !== live.conn);
  if (others.length > 0) tone.stop();
  const place = room?.kind === "group" ? ` in ${room.name}` : "";
  $("#call-status").textContent =
    others.length === 0 ? `Calling ${room?.name ?? ""}…` : `In a call${place} with ${others.map((a) => nameOf(a.user)).join(", ")}`;
  const tiles = [{ conn: live.conn ?? "me", user: me(), stream: call.stream, media: call.media, local: true }];
  for (const attendee of others) {
    tiles.push({ conn: attendee.conn, user: attendee.user, stream: call.peers.get(attendee.conn)?.stream, media: attendee.media, local: false, state: call.peers.get(attendee.conn)?.pc.connectionState });
  }
  const grid = $("#grid");
  grid.dataset.count = String(tiles.length);
  const existing = new Map([...grid.children].map((tile) => [tile.dataset.conn, tile]));
  const ordered = tiles.map((tile) => {
    let element = existing.get(tile.conn);
    if (!element) {
      const video = h("video", { autoplay: true, playsinline: true, muted: tile.local, "aria-label": tile.local ? "Your camera" : `Video of ${nameOf(tile.user)}` });
      video.muted = tile.local;
      element = h("figure", { class: `tile${tile.local ? " local" : ""}`, dataset: { conn: tile.conn, user: tile.user } }, video, h("figcaption", {}));
    }
    const video = element.querySelector("video");
    if (tile.stream && video.srcObject !== tile.stream) video.srcObject = tile.stream;
    element.classList.toggle("video-off", !tile.media.video && !tile.media.screen);
    element.dataset.audio = String(tile.media.audio);
    element.dataset.video = String(tile.media.video || tile.media.screen);
    element.querySelector("figcaption").replaceChildren(
      ...[
        tile.local ? "You" : nameOf(tile.user),
        tile.media.audio ? null : h("span", { class: "muted-audio", title: "Microphone off" }, " · mic off"),
        tile.media.video || tile.media.screen ? null : h("span", { class: "muted-video", title: "Camera off" }, " · camera off"),
        tile.media.screen ? h("span", { class: "sharing" }, " · sharing screen") : null,
        tile.state && tile.state !== "connected" ? h("span", { class: "muted" }, ` · ${tile.state}`) : null,
      ].filter(Boolean),
    );
    return element;
  });
  grid.replaceChildren(...ordered);
  setToggle($("#toggle-mic"), call.media.audio, "Mic", "microphone");
  setToggle($("#toggle-cam"), call.media.video, "Camera", "camera");
  $("#toggle-screen").textContent = call.media.screen ? "Stop sharing" : "Share screen";
  $("#toggle-screen").setAttribute("aria-pressed", String(call.media.screen));
  const myRole = state.members.get(call.meeting.room)?.find((m) => m.user.id === me())?.role;
  $("#end-call").hidden = !(call.meeting.host === me() || room?.kind === "direct" || myRole === "owner" || myRole === "admin");
}

function setToggle(button, on, label, device) {
  button.textContent = `${label} ${on ? "on" : "off"}`;
  button.setAttribute("aria-pressed", String(!on));
  button.setAttribute("aria-label", `Turn the ${device} ${on ? "off" : "on"}`);
  button.classList.toggle("off", !on);
}

$("#toggle-mic").addEventListener("click", act(() => state.call?.toggle("audio")));
$("#toggle-cam").addEventListener("click", act(() => state.call?.toggle("video")));
$("#toggle-screen").addEventListener("click", act(() => state.call?.toggleScreen()));
$("#leave-call").addEventListener("click", act(() => state.call?.leave()));
$("#end-call").addEventListener("click", act(() => state.call?.end()));

function showIncoming(meeting) {
  state.incoming = meeting;
  const room = state.rooms.get(meeting.room);
  $("#incoming-who").textContent = `${nameOf(meeting.host)} is calling${room?.kind === "group" ? ` in ${room.name}` : ""}.`;
  $("#incoming").hidden = false;
  tone.start("ring");
  $("#accept-call").focus();
}

function hideIncoming(meeting = null) {
  if (meeting && state.incoming?.id !== meeting.id) return;
  state.incoming = null;
  $("#incoming").hidden = true;
  if (!state.call) tone.stop();
}

$("#accept-call").addEventListener(
  "click",
  act(async () => {
    const meeting = state.incoming;
    if (!meeting) return;
    hideIncoming();
    await beginCall(meeting);
  }),
);

$("#decline-call").addEventListener(
  "click",
  act(async () => {
    const meeting = state.incoming;
    hideIncoming();
    if (meeting) await live.request({ type: "meeting.decline", meeting: meeting.id });
  }),
);

function meetingChanged(meeting) {
  const room = state.rooms.get(meeting.room);
  if (room) room.meeting = meeting.state === "ringing" || meeting.state === "active" ? meeting : null;
  renderRooms();
}

live.addEventListener("meeting.ringing", ({ detail }) => {
  meetingChanged(detail.meeting);
  if (detail.meeting.host !== me() && state.call?.id !== detail.meeting.id) showIncoming(detail.meeting);
});

live.addEventListener("meeting.active", ({ detail }) => {
  meetingChanged(detail.meeting);
  if (state.call?.id === detail.meeting.id) tone.stop();
  // A direct call answered (on another device, perhaps) rings no more; a group call may still be joined.
  if (state.rooms.get(detail.meeting.room)?.kind === "direct") hideIncoming(detail.meeting);
});

const endings = {
  declined: "The call was declined.",
  missed: "Nobody answered the call.",
  cancelled: "The caller hung up.",
  empty: "The call ended.",
  ended: "The call was ended.",
};

live.addEventListener("meeting.ended", ({ detail }) => {
  meetingChanged(detail.meeting);
  const mine = state.call?.id === detail.meeting.id;
  if (mine || state.incoming?.id === detail.meeting.id) toast(endings[detail.reason] ?? "The call ended.");
  hideIncoming(detail.meeting);
  if (mine) state.call.close();
});

live.addEventListener("attendee.joined", ({ detail }) => state.call?.id === detail.meeting && state.call.attendeeJoined(detail.attendee));
live.addEventListener("attendee.left", ({ detail }) => state.call?.id === detail.meeting && state.call.attendeeLeft(detail.attendee));
live.addEventListener("attendee.media", ({ detail }) => state.call?.id === detail.meeting && state.call.attendeeMedia(detail.attendee));
live.addEventListener("signal", ({ detail }) => state.call?.id === detail.meeting && state.call.receive(detail));
live.addEventListener("peer_gone", ({ detail }) => state.call?.id === detail.meeting && state.call.drop(detail.peer));

// MARK: Start

// A handle for debugging in the console and for the end-to-end tests (getStats of the calls' peer connections).
window.parley = { state, live, api };

// The session survives a reload in the refresh cookie alone: until its refresh answers, neither form nor rooms show.
async function boot() {
  let signedIn;
  try {
    signedIn = await api.restore();
  } catch (error) {
    showAuth();
    return toast(`You could not be signed in again: ${error.message}`);
  }
  if (!signedIn) return showAuth();
  await start().catch((error) => (error.status === 401 ? api.forget() : toast(error.message)));
}

boot();
