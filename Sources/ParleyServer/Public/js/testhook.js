// A read-only window onto the client for the end-to-end tests (e2e/browser) and for debugging in the console:
// `window.parley` exists only when the page's address carries `test=1` (http://host/?test=1), and otherwise not at
// all. It hands out getters and frozen snapshots, never the store, the Api or the socket themselves, so a test reads
// what the client holds without being able to change it; its one exception, spoilAccessToken, says what it forces
// and why.

function callSnapshot(call) {
  if (!call) return null;
  const readiness = (track) => track?.readyState ?? null;
  return Object.freeze({
    id: call.id,
    joined: call.joined,
    media: Object.freeze({ ...call.media }),
    // The local devices' tracks: "live", "ended", or null when the device is off.
    tracks: Object.freeze({ audio: readiness(call.tracks.audio), video: readiness(call.tracks.video), screen: readiness(call.screen) }),
    // The participants' connections; a recorder's is among `recorders` only (and, peered, among `peers`).
    attendees: Object.freeze(call.participants.map((attendee) => attendee.conn)),
    recorders: Object.freeze([...call.attendees.values()].filter((attendee) => attendee.recorder).map((attendee) => attendee.conn)),
    recording: call.recording ? Object.freeze({ ...call.recording }) : null,
    peers: Object.freeze(Object.fromEntries([...call.peers].map(([conn, peer]) => [conn, peer.pc.connectionState]))),
  });
}

export function exposeForTests({ api, live, store }) {
  if (new URLSearchParams(location.search).get("test") !== "1") return;
  const hook = {
    get token() {
      return api.token;
    },
    get session() {
      return api.session ? Object.freeze({ user: Object.freeze({ ...api.session.user }), expiresAt: api.session.expiresAt }) : null;
    },
    get conn() {
      return live.conn;
    },
    get call() {
      return callSnapshot(store.call);
    },
    get me() {
      return store.me;
    },
    get current() {
      return store.current;
    },
    get connection() {
      return store.connection;
    },
    get rooms() {
      return Object.freeze(store.rooms);
    },
    /** A room's messages held, in seq order. */
    messages(room) {
      return Object.freeze(store.messages(room));
    },
    members(room) {
      return store.members(room) ?? null;
    },
    /** The statistics of every peer connection of the call (RTCPeerConnection.getStats), as plain objects. */
    async callStats() {
      const peers = [...(store.call?.peers.values() ?? [])];
      const reports = await Promise.all(peers.map((peer) => peer.pc.getStats()));
      return reports.flatMap((report) => [...report.values()]);
    },
    /**
     * Replaces the access token in memory with one the server refuses, as it would an expired one, so that a test
     * can see the next request answered 401, refreshed through the cookie, and sent again. Tokens live for minutes:
     * a test cannot wait for one to expire.
     */
    spoilAccessToken() {
      if (api.session) api.session = { ...api.session, accessToken: "not-a-token" };
    },
  };
  Object.defineProperty(window, "parley", { value: Object.freeze(hook), enumerable: true });
}
