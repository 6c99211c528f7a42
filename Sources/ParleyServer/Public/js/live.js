// Parley's realtime protocol (docs/protocol.md) for the browser. One socket at /ws, reopened after every drop with
// a backoff (at once after a 1012 restart), to whichever WS node the load balancer picks. On every (re)connect it
// subscribes to its rooms again with `since`, and it delivers each room's messages once and in seq order, filling
// any gap over REST.

export class LiveError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class Live extends EventTarget {
  /** `node` asks the load balancer for one WS node (the ?node= of the page), which it honours while that node is up. */
  constructor(api, { node = null } = {}) {
    super();
    this.api = api;
    this.node = node;
    this.cursors = new Map();
    this.chains = new Map();
    this.pending = new Map();
    this.nextId = 0;
    this.socket = null;
    this.conn = null;
    this.attempt = 0;
    this.stopped = true;
  }

  get online() {
    return this.conn !== null;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.socket?.close(1000);
  }

  /** Starts delivering a room's messages after `since`; kept across reconnects. */
  follow(room, since) {
    if (this.cursors.has(room)) return;
    this.cursors.set(room, since);
    if (this.online) this.request({ type: "subscribe", rooms: [{ room, since }] }).catch((error) => this.emit("failure", error));
  }

  unfollow(room) {
    this.cursors.delete(room);
    if (this.online) this.request({ type: "unsubscribe", rooms: [{ room }] }).catch(() => {});
  }

  /** Sends a frame and resolves with its reply; an error reply rejects with a LiveError. */
  request(frame, timeout = 15_000) {
    if (!this.online) return Promise.reject(new LiveError("offline", "You are offline; Parley is reconnecting."));
    const id = `c${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LiveError("timeout", "The server did not answer in time."));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** A frame that wants no reply (typing). */
  notify(frame) {
    if (this.online) this.socket.send(JSON.stringify(frame));
  }

  async open() {
    if (this.stopped || !this.api.session) return;
    if (this.api.session.expiresAt - Date.now() < 30_000) await this.api.refresh().catch(() => {});
    if (!this.api.token) return;
    const url = new URL("/ws", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (this.node) url.searchParams.set("node", this.node);
    const socket = new WebSocket(url, ["parley.v1", `bearer.${this.api.token}`]);
    this.socket = socket;
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => this.closed(socket, event.code);
  }

  closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.conn = null;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new LiveError("offline", "The connection dropped before the server answered."));
    }
    this.pending.clear();
    this.emit("offline", { code });
    if (this.stopped) return;
    if (code === 4001) {
      this.stopped = true;
      this.emit("signedout", {});
      return;
    }
    const renewal = code === 4401 ? this.api.refresh().catch(() => {}) : Promise.resolve();
    const delay = code === 1012 ? 0 : Math.min(5000, 200 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    renewal.then(() => setTimeout(() => this.open(), delay));
  }

  receive(frame) {
    if (frame.re !== undefined && this.pending.has(frame.re)) {
      const { resolve, reject, timer } = this.pending.get(frame.re);
      clearTimeout(timer);
      this.pending.delete(frame.re);
      if (frame.ok) resolve(frame);
      else reject(new LiveError(frame.error?.code ?? "internal", frame.error?.message ?? "The request failed."));
      return;
    }
    switch (frame.type) {
      case "hello":
        this.conn = frame.conn;
        this.attempt = 0;
        this.emit("online", frame);
        this.resubscribe();
        break;
      case "message.created":
        this.deliver(frame);
        break;
      case "error":
        // A signal's target that is not in the meeting (any more): the call drops that peer, nothing to show.
        if (frame.error?.code === "peer_gone" && frame.peer) this.emit("peer_gone", frame);
        else this.emit("failure", new LiveError(frame.error?.code ?? "internal", frame.error?.message ?? "Something went wrong."));
        break;
      default:
        this.emit(frame.type, frame);
    }
  }

  resubscribe() {
    const rooms = [...this.cursors].map(([room, since]) => ({ room, since }));
    for (let start = 0; start < rooms.length; start += 1000) {
      this.request({ type: "subscribe", rooms: rooms.slice(start, start + 1000) }, 60_000).catch((error) => this.emit("failure", error));
    }
  }

  /** Delivers a message once and in order: a seq already held is dropped, and a jump is filled over REST first. */
  deliver(message) {
    this.inOrder(message.room, async () => {
      const last = this.cursors.get(message.room);
      if (last === undefined || message.seq <= last) return;
      let cursor = last;
      while (cursor < message.seq - 1) {
        const page = await this.api.request("GET", `/api/rooms/${message.room}/messages?after=${cursor}&before=${message.seq}&limit=200`);
        if (page.length === 0) break;
        for (const missed of page) this.emit("message", missed);
        cursor = page[page.length - 1].seq;
      }
      if (!this.cursors.has(message.room)) return;
      this.cursors.set(message.room, message.seq);
      this.emit("message", message);
    });
  }

  inOrder(room, work) {
    const chain = (this.chains.get(room) ?? Promise.resolve()).then(work).catch((error) => this.emit("failure", error));
    this.chains.set(room, chain);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
