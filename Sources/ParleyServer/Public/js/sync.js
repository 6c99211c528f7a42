// What the client asks of the server, with its answers put into the store: rooms, contacts, presence, history,
// members and search over REST; sends, edits, reactions and read marks over the socket when it is up, over REST when
// it is not; deletions over REST.

import { uuid } from "./api.js";

const pageSize = 50;

export class Sync {
  constructor({ api, live, store, files, memory }) {
    this.api = api;
    this.live = live;
    this.store = store;
    this.files = files;
    this.memory = memory;
    this.loadingOlder = new Map();
    // Rooms this page made (a contact added, a group created), and how many it is making: their room.added is no news.
    this.made = new Set();
    this.making = 0;
  }

  /** After signing in: the user, their rooms and contacts, then the socket, and the room open before a reload. */
  async start() {
    this.memory.load(this.api.user.id);
    this.store.setMe(this.api.user);
    await Promise.all([this.loadRooms(), this.loadContacts()]);
    this.live.start();
    const room = this.memory.room;
    if (room && this.store.room(room)) await this.open(room);
  }

  /** Makes a room (`work` answers its id) while room.added for it is not news to this page. */
  async make(work) {
    this.making += 1;
    try {
      const room = await work();
      this.made.add(room);
      return room;
    } finally {
      this.making -= 1;
    }
  }

  /** Whether a room.added for `room` tells this user something new: it was made by someone else. */
  isNews(room) {
    return this.making === 0 && !this.made.has(room) && !this.store.room(room);
  }

  async loadRooms() {
    for (const room of await this.api.request("GET", "/api/rooms")) this.addRoom(room);
  }

  /** A room of this user's, whose messages the socket then delivers. */
  addRoom(room) {
    this.store.putRoom(room);
    this.live.follow(room.id, room.lastSeq);
  }

  async loadContacts() {
    this.store.setContacts(await this.api.request("GET", "/api/contacts"));
  }

  async refreshPresence() {
    this.store.setPresence(await this.api.request("GET", "/api/presence"));
  }

  /** Makes a room the open one, with its latest page of history, its members and a read mark. */
  async open(id) {
    if (!this.store.room(id)) return;
    this.store.select(id);
    if (!this.store.loaded(id)) {
      this.store.openHistory(id);
      await this.loadOlder(id);
    }
    await this.loadMembers(id);
    this.markRead(id);
  }

  /** Loads the page of history before the oldest message held; calls while one loads share it. */
  loadOlder(room) {
    if (this.store.exhausted(room)) return Promise.resolve();
    if (!this.loadingOlder.has(room)) {
      const loading = this.fetchOlder(room).finally(() => this.loadingOlder.delete(room));
      this.loadingOlder.set(room, loading);
    }
    return this.loadingOlder.get(room);
  }

  async fetchOlder(room) {
    const oldest = this.store.oldestSeq(room);
    const query = Number.isFinite(oldest) ? `before=${oldest}&limit=${pageSize}` : `limit=${pageSize}`;
    const page = await this.api.request("GET", `/api/rooms/${room}/messages?${query}`);
    this.store.addMessages(room, page, { exhausted: page.length < pageSize || page[0]?.seq === 1 });
  }

  async loadMembers(room) {
    const detail = await this.api.request("GET", `/api/rooms/${room}`);
    this.store.setMembers(room, detail.members);
    return detail;
  }

  /** Tells the server this user has read the room up to its newest message held. */
  markRead(room) {
    const seq = this.store.newestSeq(room);
    if (!this.store.room(room) || seq === 0) return;
    this.store.updateRoom(room, { unread: 0 });
    if (this.live.online) this.live.notify({ type: "read", room, seq });
    else this.api.request("POST", `/api/rooms/${room}/read`, { seq }).catch(() => {});
  }

  /**
   * Sends a new message, of text, files (File objects) or both, perhaps in reply to the message `replyTo` (a seq);
   * it shows as pending until the server has stored it.
   */
  compose(room, text, files = [], replyTo = null) {
    const clientId = uuid();
    const attached = Object.freeze(files.map((file) => Object.freeze({ file, ref: null, uploaded: false })));
    this.store.putPending(clientId, { room, text, files: attached, replyTo, state: "sending", error: null });
    return this.send(clientId);
  }

  /**
   * Sends (or resends, with the same clientId, so that the server stores it once) a pending message: first the
   * bytes of each of its files not uploaded yet, each announced again if its upload failed, then the message.
   */
  async send(clientId) {
    const pending = this.store.pendingMessage(clientId);
    if (!pending) return;
    this.store.putPending(clientId, { state: "sending", error: null });
    try {
      const ids = await this.upload(clientId);
      // A message of files alone has no text.
      const frame = { room: pending.room, clientId };
      if (pending.text || !ids.length) frame.text = pending.text;
      if (ids.length) frame.files = ids;
      if (pending.replyTo) frame.replyTo = pending.replyTo;
      const message = this.live.online
        ? (await this.live.request({ type: "send", ...frame })).message
        : await this.api.request("POST", `/api/rooms/${pending.room}/messages`, frame);
      this.store.removePending(clientId);
      this.store.addMessages(message.room, [message]);
    } catch (error) {
      // Unless it arrived meanwhile, over the socket.
      if (this.store.pendingMessage(clientId)) this.store.putPending(clientId, { state: "failed", error: error.message });
    }
  }

  /** Uploads a pending message's files, one after the other, and answers their ids. */
  async upload(clientId) {
    const { room, files = [] } = this.store.pendingMessage(clientId);
    const done = [...files];
    const update = (index, changes) => {
      done[index] = Object.freeze({ ...done[index], ...changes });
      this.store.putPending(clientId, { files: Object.freeze([...done]) });
    };
    for (const [index, attached] of files.entries()) {
      if (attached.uploaded) continue;
      // A file whose upload failed is announced anew rather than sent again to its link, which may have expired or
      // have taken the bytes with only the answer lost; the server sweeps the file left unsent.
      const { file: ref, upload } = await this.files.announce(room, attached.file);
      update(index, { ref });
      this.store.setProgress(clientId, index, 0);
      await this.files.upload(upload, attached.file, (fraction) => this.store.setProgress(clientId, index, fraction));
      update(index, { uploaded: true });
    }
    return done.map((attached) => attached.ref.id);
  }

  /** Gives up a pending message that failed. */
  discard(clientId) {
    if (this.store.pendingMessage(clientId)?.state === "failed") this.store.removePending(clientId);
  }

  /** Sends again every pending message that failed (after the socket comes back). */
  resendFailed() {
    for (const [clientId, pending] of this.store.pending()) if (pending.state === "failed") this.send(clientId);
  }

  async deleteMessage(room, seq) {
    const deleted = await this.api.request("DELETE", `/api/rooms/${room}/messages/${seq}`);
    this.store.addMessages(deleted.room, [deleted]);
    this.store.requote(deleted);
  }

  /** Changes the text of one of this user's messages. */
  async editMessage(room, seq, text) {
    const edited = this.live.online
      ? (await this.live.request({ type: "edit", room, seq, text })).message
      : await this.api.request("PATCH", `/api/rooms/${room}/messages/${seq}`, { text });
    this.store.addMessages(edited.room, [edited]);
    this.store.requote(edited);
  }

  /** Gives (`on`) or takes back this user's reaction `emoji` on a message. */
  async react(room, seq, emoji, on) {
    const path = `/api/rooms/${room}/messages/${seq}/reactions`;
    if (this.live.online) await this.live.request({ type: "react", room, seq, emoji, remove: !on });
    else if (on) await this.api.request("POST", path, { emoji });
    else await this.api.request("DELETE", `${path}/${encodeURIComponent(emoji)}`);
    this.store.react(room, seq, this.store.me, emoji, on);
  }

  /** A page of the messages of this user's rooms that hold every word of `query`: {messages, next}. */
  search(query, offset = 0, limit = 20) {
    return this.api.request("GET", `/api/search?q=${encodeURIComponent(query)}&limit=${limit}&offset=${offset}`);
  }

  /**
   * Opens a room at one of its messages: the history between it and the oldest message held is loaded first (from a
   * few messages before it), so the conversation has no gap, and the conversation then shows it.
   */
  async reveal(room, seq) {
    await this.open(room);
    const oldest = this.store.oldestSeq(room);
    if (!this.store.message(room, seq) && Number.isFinite(oldest) && seq < oldest) {
      let cursor = Math.max(0, seq - 10);
      while (cursor < oldest - 1) {
        const page = await this.api.request("GET", `/api/rooms/${room}/messages?after=${cursor}&before=${oldest}&limit=200`);
        if (page.length === 0) break;
        cursor = page.at(-1).seq;
        this.store.addMessages(room, page, { exhausted: page[0].seq === 1 });
      }
    }
    this.store.reveal(room, seq);
  }
}
