// A meeting as one browser attends it: a full mesh with one RTCPeerConnection per other attendee, signaled through
// Parley (docs/protocol.md, "Signaling"). The newcomer offers to everyone already there; glare during later
// renegotiation resolves by perfect negotiation, the connection whose id sorts first being the polite one; a
// failed ICE connection restarts ICE, as after a network change.

export class Call extends EventTarget {
  constructor(live, api, meeting) {
    super();
    this.live = live;
    this.api = api;
    this.meeting = meeting;
    this.peers = new Map();
    this.attendees = new Map();
    this.stream = new MediaStream();
    this.tracks = { audio: null, video: null };
    this.screen = null;
    this.media = { audio: true, video: true, screen: false };
    this.iceServers = [];
    this.joined = false;
  }

  get id() {
    return this.meeting.id;
  }

  /** The recording that runs in the meeting, {by, startedAt}, or null. */
  get recording() {
    return this.meeting.recording ?? null;
  }

  /**
   * The attendees who take part, this connection among them. A recorder (`recorder: true`) is peered like anyone,
   * its offer answered with this browser's media, but it is nobody in the call: no tile, and no one to call with.
   */
  get participants() {
    return [...this.attendees.values()].filter((attendee) => !attendee.recorder);
  }

  /** Takes the camera and microphone, then joins with this connection and offers to the attendees. */
  async join() {
    const [ice] = await Promise.all([this.api.request("GET", "/api/turn").catch(() => ({ iceServers: [] })), this.openDevices()]);
    this.iceServers = ice.iceServers;
    await this.enter();
  }

  async openDevices() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
      for (const track of stream.getTracks()) this.setLocal(track.kind, track);
    } catch (error) {
      this.media.audio = this.media.video = false;
      this.emit("problem", new Error(`Your camera and microphone are not available (${error.name}); you join without them.`));
    }
  }

  /** Joins (again, after a reconnect: with the new connection) and calls every attendee already there. */
  async enter() {
    for (const conn of [...this.peers.keys()]) this.drop(conn);
    this.attendees.clear();
    const reply = await this.live.request({ type: "meeting.join", meeting: this.id, ...this.media });
    this.joined = true;
    this.meeting = reply.meeting;
    for (const attendee of reply.meeting.attendees) this.attendees.set(attendee.conn, attendee);
    this.emit("changed");
    for (const attendee of reply.meeting.attendees) {
      if (attendee.conn !== this.live.conn) this.connect(attendee.conn, true);
    }
  }

  async leave() {
    this.joined = false;
    await this.live.request({ type: "meeting.leave", meeting: this.id }).catch(() => {});
    this.close();
  }

  async end() {
    await this.live.request({ type: "meeting.end", meeting: this.id });
    this.close();
  }

  /** The meeting as an event sent it anew (with or without its recording). */
  updateMeeting(meeting) {
    this.meeting = meeting;
    this.emit("changed");
  }

  /** A recording started ({by, startedAt}) or stopped (null). */
  setRecording(recording) {
    const { recording: _, ...meeting } = this.meeting;
    this.meeting = recording ? { ...meeting, recording } : meeting;
    this.emit("changed");
  }

  /** Starts recording the meeting (or finds it recorded already), or stops it; the reply is the meeting. */
  async record(on) {
    const meeting = await this.api.request(on ? "POST" : "DELETE", `/api/meetings/${this.id}/recording`);
    if (meeting?.id === this.id) this.setRecording(meeting.recording ?? null);
  }

  close() {
    this.joined = false;
    for (const conn of [...this.peers.keys()]) this.drop(conn);
    for (const track of [this.tracks.audio, this.tracks.video, this.screen]) track?.stop();
    this.emit("closed");
  }

  // MARK: Media

  setLocal(kind, track) {
    const old = this.tracks[kind];
    if (old) this.stream.removeTrack(old);
    this.tracks[kind] = track;
    if (track) this.stream.addTrack(track);
  }

  /** Turning the camera or microphone off stops the device and sends nothing; peers see the muted state. */
  async toggle(kind) {
    const on = !this.media[kind];
    if (on) {
      const stream = await navigator.mediaDevices.getUserMedia(kind === "audio" ? { audio: true } : { video: { width: 640, height: 360 } });
      this.setLocal(kind, stream.getTracks()[0]);
    } else {
      this.tracks[kind]?.stop();
      this.setLocal(kind, null);
    }
    this.media[kind] = on;
    if (kind === "video" && this.screen) return this.publishMedia();
    await this.replace(kind, this.tracks[kind]);
    await this.publishMedia();
  }

  async toggleScreen() {
    if (this.screen) {
      this.screen.stop();
      this.screen = null;
      this.media.screen = false;
      await this.replace("video", this.tracks.video);
    } else {
      const display = await navigator.mediaDevices.getDisplayMedia({ video: true });
      this.screen = display.getVideoTracks()[0];
      this.screen.onended = () => this.screen && this.toggleScreen();
      this.media.screen = true;
      await this.replace("video", this.screen);
    }
    this.emit("changed");
    await this.publishMedia();
  }

  async replace(kind, track) {
    for (const peer of this.peers.values()) {
      const transceiver = peer.transceivers[kind];
      if (transceiver) await transceiver.sender.replaceTrack(track);
    }
    this.emit("changed");
  }

  async publishMedia() {
    await this.live.request({ type: "media", meeting: this.id, ...this.media });
  }

  // MARK: Peers

  connect(conn, offering) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const peer = { pc, polite: this.live.conn < conn, makingOffer: false, ignoreOffer: false, stream: new MediaStream(), transceivers: {} };
    this.peers.set(conn, peer);
    if (offering) {
      for (const kind of ["audio", "video"]) {
        peer.transceivers[kind] = pc.addTransceiver(this.sending(kind) ?? kind, { direction: "sendrecv", streams: [this.stream] });
      }
    }
    pc.ontrack = ({ track }) => {
      peer.stream.addTrack(track);
      this.emit("changed");
    };
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        await this.signal(conn, "offer", pc.localDescription.toJSON());
      } catch (error) {
        this.emit("problem", error);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      this.signal(conn, "candidate", candidate ? candidate.toJSON() : { candidate: "" }).catch(() => {});
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed") pc.restartIce();
    };
    pc.onconnectionstatechange = () => this.emit("changed");
    return peer;
  }

  sending(kind) {
    return kind === "video" ? (this.screen ?? this.tracks.video) : this.tracks.audio;
  }

  drop(conn) {
    const peer = this.peers.get(conn);
    if (!peer) return;
    peer.pc.close();
    this.peers.delete(conn);
    this.emit("changed");
  }

  async signal(to, kind, payload) {
    try {
      await this.live.request({ type: "signal", meeting: this.id, to, kind, payload });
    } catch (error) {
      // A peer that is gone is not a problem: its attendee.left follows.
      if (error.code !== "peer_gone") throw error;
      this.drop(to);
    }
  }

  /** A signal from another attendee, in perfect negotiation. */
  async receive(frame) {
    if (!this.joined) return;
    const { from, kind, payload } = frame;
    if (kind === "bye") return this.drop(from);
    const peer = this.peers.get(from) ?? (kind === "offer" ? this.connect(from, false) : null);
    if (!peer) return;
    const pc = peer.pc;
    try {
      if (kind === "offer" || kind === "answer") {
        const collision = kind === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
        peer.ignoreOffer = !peer.polite && collision;
        if (peer.ignoreOffer) return;
        await pc.setRemoteDescription(payload);
        if (kind === "offer") {
          this.attach(peer);
          await pc.setLocalDescription();
          await this.signal(from, "answer", pc.localDescription.toJSON());
        }
      } else if (kind === "candidate") {
        try {
          await pc.addIceCandidate(payload.candidate ? payload : null);
        } catch (error) {
          if (!peer.ignoreOffer) throw error;
        }
      }
    } catch (error) {
      this.emit("problem", error);
    }
  }

  /** On the answering side, sends this browser's media on the transceivers the offer created. */
  attach(peer) {
    for (const transceiver of peer.pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      if (peer.transceivers[kind] || transceiver.stopped) continue;
      peer.transceivers[kind] = transceiver;
      transceiver.direction = "sendrecv";
      transceiver.sender.replaceTrack(this.sending(kind));
      transceiver.sender.setStreams?.(this.stream);
    }
  }

  // MARK: Meeting events

  /** An attendee who joined, or whose media changed. */
  putAttendee(attendee) {
    this.attendees.set(attendee.conn, attendee);
    this.emit("changed");
  }

  attendeeLeft(attendee) {
    this.attendees.delete(attendee.conn);
    this.drop(attendee.conn);
    this.emit("changed");
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
