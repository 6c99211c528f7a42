// The web client's state, in one place. Every change goes through a method of the Store, which then tells the
// subscribers of that change's topic what changed (the detail names the room, user or message), so that a view
// redraws only that. What the getters hand out is frozen: a view or the test hook can read it but not change it.

/** Freezes a value decoded from JSON, all the way down. */
function frozen(value) {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) frozen(inner);
    Object.freeze(value);
  }
  return value;
}

const noUsers = Object.freeze([]);

// The system user that posts the recordings of meetings: no member of any room, so no room's member list names it.
const recorder = Object.freeze({ id: "recorder", username: "parley:recorder", name: "Recorder", avatar: null });

export class Store {
  #topics = new EventTarget();
  #me = null;
  #users = new Map([[recorder.id, recorder]]);
  #contacts = noUsers;
  #rooms = new Map();
  #presence = new Map();
  #current = null;
  // room → (seq → message), for the rooms opened in this page only; `#exhausted` holds those whose first message is in.
  #messages = new Map();
  #exhausted = new Set();
  // clientId → {room, text, files, state: "sending" | "failed", error}: messages sent and not yet stored. Each of
  // `files` is {file: the File, ref: {id, name, size, contentType} once announced, uploaded: whether its bytes are in}.
  #pending = new Map();
  // clientId → the fraction of each of its files' bytes sent so far.
  #progress = new Map();
  #members = new Map();
  #typing = new Map();
  #connection = Object.freeze({ online: false, node: null });
  #call = null;
  #incoming = null;
  // What the composer is doing besides writing a new message: {room, seq, kind: "reply" | "edit"}, or null.
  #composing = null;

  /** Calls `listener(detail)` after every change of `topic`. */
  on(topic, listener) {
    this.#topics.addEventListener(topic, (event) => listener(event.detail));
  }

  #emit(topic, detail = {}) {
    this.#topics.dispatchEvent(new CustomEvent(topic, { detail }));
  }

  // MARK: Reading

  get me() {
    return this.#me;
  }
  user(id) {
    return this.#users.get(id) ?? null;
  }
  nameOf(id) {
    return this.#users.get(id)?.name ?? "Someone";
  }
  get contacts() {
    return this.#contacts;
  }
  room(id) {
    return this.#rooms.get(id) ?? null;
  }
  get rooms() {
    return [...this.#rooms.values()];
  }
  /** true or false once known, undefined before. */
  online(user) {
    return this.#presence.get(user);
  }
  get current() {
    return this.#current;
  }
  /** Whether the room's history has been opened in this page. */
  loaded(room) {
    return this.#messages.has(room);
  }
  exhausted(room) {
    return this.#exhausted.has(room);
  }
  message(room, seq) {
    return this.#messages.get(room)?.get(seq) ?? null;
  }
  /** The room's messages held, in seq order. */
  messages(room) {
    return [...(this.#messages.get(room)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }
  oldestSeq(room) {
    return Math.min(...(this.#messages.get(room)?.keys() ?? []));
  }
  newestSeq(room) {
    return Math.max(0, ...(this.#messages.get(room)?.keys() ?? []));
  }
  pendingMessage(clientId) {
    return this.#pending.get(clientId) ?? null;
  }
  /** How much of each of a pending message's files has been uploaded, from 0 to 1. */
  progress(clientId) {
    return this.#progress.get(clientId) ?? [];
  }
  /** [clientId, pending] pairs, oldest first; of one room when `room` is given. */
  pending(room = null) {
    return [...this.#pending].filter(([, pending]) => room === null || pending.room === room);
  }
  /** The room's members once loaded (GET /api/rooms/:id), else undefined. */
  members(room) {
    return this.#members.get(room);
  }
  typing(room) {
    return [...(this.#typing.get(room) ?? [])];
  }
  get connection() {
    return this.#connection;
  }
  /** The Call this page attends (call.js), or null. */
  get call() {
    return this.#call;
  }
  /** The meeting ringing this user, or null. */
  get incoming() {
    return this.#incoming;
  }
  /** The message the composer answers or edits, {room, seq, kind: "reply" | "edit"}, or null. */
  get composing() {
    return this.#composing;
  }

  // MARK: Changing

  /** The signed-in user, or null when nobody is: topic "me". */
  setMe(user) {
    this.#me = user?.id ?? null;
    // A copy: the Api keeps its own.
    if (user) this.addUsers([{ ...user }]);
    this.#emit("me", { user });
  }

  /** Topic "users", with the ids of users new to the store, renamed, or with another picture. */
  addUsers(users) {
    const differs = (user, held) => held?.name !== user.name || held?.avatar !== user.avatar;
    const changed = users.filter((user) => differs(user, this.#users.get(user.id))).map((user) => user.id);
    for (const user of users) this.#users.set(user.id, frozen(user));
    if (changed.length) this.#emit("users", { ids: changed });
  }

  setContacts(contacts) {
    this.#contacts = frozen(contacts);
    this.addUsers(contacts.map((contact) => contact.user));
    this.#emit("contacts");
  }

  /** Adds or replaces a room's summary, as the server sent it: topic "room". */
  putRoom(room) {
    if (room.peer) this.addUsers([room.peer]);
    this.#setRoom(room);
  }

  /** Changes a room's summary. Its peer is taken only from `changes`: the one it holds may be older than the store's. */
  updateRoom(id, changes) {
    const room = this.#rooms.get(id);
    if (!room) return;
    if (changes.peer) this.addUsers([changes.peer]);
    this.#setRoom({ ...room, ...changes });
  }

  #setRoom(room) {
    this.#rooms.set(room.id, frozen(room));
    this.#emit("room", { id: room.id });
  }

  /** Topic "room.removed"; a removed current room leaves no room current, without a "current" change. */
  removeRoom(id) {
    if (!this.#rooms.delete(id)) return;
    if (this.#current === id) this.#current = null;
    this.#emit("room.removed", { id });
  }

  /** Presence from [{user, online}]: topic "presence" with the users. */
  setPresence(entries) {
    for (const { user, online } of entries) this.#presence.set(user, online);
    this.#emit("presence", { users: entries.map((entry) => entry.user) });
  }

  /** The room the user has open, or null: topic "current". */
  select(id) {
    const previous = this.#current;
    this.#current = id;
    this.#emit("current", { id, previous });
  }

  /** Starts holding a room's messages; only rooms opened are held. */
  openHistory(room) {
    if (!this.#messages.has(room)) this.#messages.set(room, new Map());
  }

  /** Adds or replaces messages of an opened room (a deletion replaces its message): topic "messages". */
  addMessages(room, messages, { exhausted = false } = {}) {
    const held = this.#messages.get(room);
    if (!held) return;
    for (const message of messages) held.set(message.seq, frozen(message));
    if (exhausted) this.#exhausted.add(room);
    this.#emit("messages", { room, seqs: messages.map((message) => message.seq) });
  }

  /**
   * One member's reaction given (`on`) or taken back, on a message held: topic "messages". Each emoji's count is
   * that of its set of users, so an event heard twice changes nothing the second time.
   */
  react(room, seq, user, emoji, on) {
    const message = this.message(room, seq);
    if (!message) return;
    const reactions = (message.reactions ?? []).map((reaction) => ({ emoji: reaction.emoji, users: [...(reaction.users ?? [])] }));
    let reaction = reactions.find((held) => held.emoji === emoji);
    if (on && !reaction) reactions.push((reaction = { emoji, users: [] }));
    if (!reaction || reaction.users.includes(user) === on) return;
    reaction.users = on ? [...reaction.users, user] : reaction.users.filter((id) => id !== user);
    const kept = reactions.filter((held) => held.users.length).map((held) => ({ ...held, count: held.users.length }));
    this.addMessages(room, [{ ...message, reactions: kept }]);
  }

  /** Replaces what held messages quote of `message`, edited or deleted since: topic "messages". */
  requote(message) {
    const quoted = message.deletedAt ? { sender: message.sender, deleted: true } : { sender: message.sender, snippet: (message.text ?? "").slice(0, 140) };
    const replies = this.messages(message.room).filter((held) => held.replyTo === message.seq && held.quoted);
    if (replies.length) this.addMessages(message.room, replies.map((reply) => ({ ...reply, quoted })));
  }

  /** Asks the conversation to show a message of the open room, and to mark it a moment: topic "reveal". */
  reveal(room, seq) {
    this.#emit("reveal", { room, seq });
  }

  /** Answers or edits a message in the composer, or neither (null): topic "composing". */
  setComposing(composing) {
    this.#composing = composing === null ? null : Object.freeze({ ...composing });
    this.#emit("composing", { composing: this.#composing });
  }

  /** Adds or changes a pending message: topic "pending". */
  putPending(clientId, changes) {
    const pending = { ...this.#pending.get(clientId), ...changes };
    this.#pending.set(clientId, Object.freeze(pending));
    this.#emit("pending", { clientId, room: pending.room });
  }

  /** How much of a pending message's file `index` has been uploaded: topic "progress". */
  setProgress(clientId, index, fraction) {
    const pending = this.#pending.get(clientId);
    if (!pending) return;
    const progress = [...this.progress(clientId)];
    progress[index] = fraction;
    this.#progress.set(clientId, Object.freeze(progress));
    this.#emit("progress", { clientId, room: pending.room, index, fraction });
  }

  /** A pending message stored, or given up: topic "pending". */
  removePending(clientId) {
    const pending = this.#pending.get(clientId);
    if (!pending) return;
    this.#pending.delete(clientId);
    this.#progress.delete(clientId);
    this.#emit("pending", { clientId, room: pending.room });
  }

  /** Topic "members". */
  setMembers(room, members) {
    this.#members.set(room, frozen(members));
    this.addUsers(members.map((member) => member.user));
    this.#emit("members", { room });
  }

  /** A member has read up to `seq`: topic "read". */
  markRead(room, user, seq) {
    const members = this.#members.get(room);
    if (!members?.some((member) => member.user.id === user)) return;
    const read = (member) => (member.user.id === user ? { ...member, lastReadSeq: Math.max(member.lastReadSeq, seq) } : member);
    this.#members.set(room, frozen(members.map(read)));
    this.#emit("read", { room });
  }

  /** Topic "typing". */
  setTyping(room, user, typing) {
    const users = this.#typing.get(room) ?? new Set();
    if (users.has(user) === typing) return;
    if (typing) users.add(user);
    else users.delete(user);
    this.#typing.set(room, users);
    this.#emit("typing", { room });
  }

  /** The socket's state, {online, node}: topic "connection". */
  setConnection(connection) {
    this.#connection = Object.freeze({ ...connection });
    this.#emit("connection", this.#connection);
  }

  /** Topic "call". */
  setCall(call) {
    this.#call = call;
    this.#emit("call", { call });
  }

  /** Topic "incoming". */
  setIncoming(meeting) {
    this.#incoming = meeting === null ? null : frozen(meeting);
    this.#emit("incoming", { meeting: this.#incoming });
  }
}
