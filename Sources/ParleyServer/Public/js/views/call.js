// The call screen: a tile per attendee, keyed by connection, your own camera small in a corner; the controls; the
// call's length once someone answered; and whether it is recorded. While nobody else is there it shows who the
// call is with: "Calling Bob…" with a single Cancel while it rings, "Bob left the call" once they went. On a
// desktop it sits beside the conversation, which stays usable; on a phone it takes the screen, keeps the keyboard's
// focus inside it, and its Chat button shows the conversation instead. The Call itself (js/call.js) holds the peer
// connections; this draws it whenever it changes.

import { Call } from "../call.js";
import { $, h } from "../dom.js";
import { hueOf, personOf, refreshAvatar, userAvatar } from "./avatar.js";
import { act, toast } from "./feedback.js";
import { startTone, stopTone } from "./tone.js";

// What a refused start or stop of a recording means, by the error's code.
const recordingErrors = {
  recorder_unavailable: "No recorder is running on this server.",
  recording_forbidden: "This group does not allow recording its calls.",
  forbidden: "Only the call's attendees can record it.",
  meeting_ended: "The call has ended.",
};

const phone = matchMedia("(max-width: 700px)");

/** A call's length, "4:05", or "1:02:03" past an hour. */
export function duration(milliseconds) {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  const [hours, minutes] = [Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60)];
  const two = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${two(minutes)}:${two(seconds % 60)}` : `${two(minutes)}:${two(seconds % 60)}`;
}

function setToggle(button, on, label, device) {
  button.textContent = `${label} ${on ? "on" : "off"}`;
  button.setAttribute("aria-pressed", String(!on));
  button.setAttribute("aria-label", `Turn the ${device} ${on ? "off" : "on"}`);
  button.classList.toggle("off", !on);
}

/** The buttons, links and fields inside `root` that the keyboard can reach now. */
const focusable = (root) =>
  [...root.querySelectorAll("button, [href], input, select, textarea, [tabindex]")].filter(
    (element) => !element.disabled && element.tabIndex >= 0 && element.getClientRects().length > 0,
  );

export function mountCall({ api, live, store, sync }) {
  const screen = $("#call");
  const grid = $("#grid");
  // Of the call on screen: when someone else first was in it (the timer counts from then), who has been, and where
  // the keyboard's focus was before it opened.
  let answeredAt = null;
  let met = new Map();
  let returnFocus = null;
  let ticking = null;
  let wasRinging = false;
  let left = null;

  /** An attendee's tile: their video, and their face on their colour in its place while their camera is off. */
  function tileNode(tile) {
    const name = store.nameOf(tile.user);
    const video = h("video", { autoplay: true, playsinline: true, muted: tile.local, "aria-label": tile.local ? "Your camera" : `Video of ${name}` });
    video.muted = tile.local;
    const face = userAvatar(store, tile.user, "large");
    return h("figure", { class: `tile hue-${hueOf(tile.user)}${tile.local ? " local" : ""}`, dataset: { conn: tile.conn, user: tile.user } }, video, face, h("figcaption", {}));
  }

  /** The recording's indicator and button, for everyone in the call; not recording when there is no call. */
  function drawRecording(call, ringing = false) {
    const on = call?.recording != null;
    screen.dataset.recording = String(on);
    $("#recording-indicator").hidden = !on;
    const button = $("#record");
    button.textContent = on ? "Stop recording" : "Record";
    button.setAttribute("aria-pressed", String(on));
    button.disabled = !call?.joined;
    // A group whose owner or admins forbade recording offers no button to start one; nor does a call still ringing.
    button.hidden = ringing || (!on && call != null && store.room(call.meeting.room)?.recordingAllowed === false);
  }

  function drawTimer() {
    const timer = $("#call-timer");
    timer.hidden = answeredAt === null;
    if (answeredAt !== null) timer.textContent = duration(Date.now() - answeredAt);
  }

  /** Who the call is with while nobody else is in it: the other member's face, or the group's. */
  function drawStage(room, note) {
    const who = room?.peer ? personOf(store, room.peer.id) : { id: room?.id ?? "call", name: room?.name ?? "Call" };
    refreshAvatar($("#calling .avatar"), who, `large${room?.peer ? "" : " group"}`);
    $("#calling-name").textContent = room?.name ?? "";
    $("#calling-note").textContent = note;
  }

  function draw() {
    const call = store.call;
    if (!call) return;
    const room = store.room(call.meeting.room);
    const others = call.participants.filter((a) => a.conn !== live.conn);
    for (const attendee of others) met.set(attendee.user, store.nameOf(attendee.user));
    if (others.length > 0) {
      stopTone();
      if (answeredAt === null) {
        answeredAt = Date.now();
        ticking = setInterval(drawTimer, 1000);
      }
    }
    // Ringing is the host's wait for a first answer; once anyone has been in the call it never rings again.
    const ringing = others.length === 0 && answeredAt === null && call.meeting.host === store.me;
    const left = [...met.values()].join(", ");
    const place = room?.kind === "group" ? ` in ${room.name}` : "";
    const status =
      others.length > 0
        ? `In a call${place} with ${others.map((a) => store.nameOf(a.user)).join(", ")}`
        : ringing
          ? `Calling ${room?.name ?? ""}…`
          : met.size
            ? `${left} left the call`
            : "Waiting for others to join…";
    $("#call-status").textContent = status;
    screen.classList.toggle("alone", others.length === 0);
    $("#calling").hidden = others.length > 0;
    if (others.length === 0) drawStage(room, ringing ? "Calling…" : met.size ? "left the call" : "Waiting for others to join…");
    drawTimer();

    const tiles = [{ conn: live.conn ?? "me", user: store.me, stream: call.stream, media: call.media, local: true }];
    for (const attendee of others) {
      const peer = call.peers.get(attendee.conn);
      tiles.push({ conn: attendee.conn, user: attendee.user, stream: peer?.stream, media: attendee.media, local: false, state: peer?.pc.connectionState });
    }
    grid.dataset.count = String(tiles.length);
    const existing = new Map([...grid.children].map((tile) => [tile.dataset.conn, tile]));
    const ordered = tiles.map((tile) => {
      const element = existing.get(tile.conn) ?? tileNode(tile);
      refreshAvatar(element.querySelector(".avatar"), personOf(store, tile.user), "large");
      const video = element.querySelector("video");
      if (tile.stream && video.srcObject !== tile.stream) video.srcObject = tile.stream;
      const showsVideo = tile.media.video || tile.media.screen;
      element.classList.toggle("video-off", !showsVideo);
      element.dataset.audio = String(tile.media.audio);
      element.dataset.video = String(showsVideo);
      element.querySelector("figcaption").replaceChildren(
        ...[
          tile.local ? "You" : store.nameOf(tile.user),
          tile.media.audio ? null : h("span", { class: "muted-audio", title: "Microphone off" }, " · mic off"),
          showsVideo ? null : h("span", { class: "muted-video", title: "Camera off" }, " · camera off"),
          tile.media.screen ? h("span", { class: "sharing" }, " · sharing screen") : null,
          tile.state && tile.state !== "connected" ? h("span", {}, ` · ${tile.state}`) : null,
        ].filter(Boolean),
      );
      return element;
    });
    grid.replaceChildren(...ordered);

    setToggle($("#toggle-mic"), call.media.audio, "Mic", "microphone");
    setToggle($("#toggle-cam"), call.media.video, "Camera", "camera");
    $("#toggle-screen").textContent = call.media.screen ? "Stop sharing" : "Share screen";
    $("#toggle-screen").setAttribute("aria-pressed", String(call.media.screen));
    $("#toggle-screen").hidden = ringing;
    drawRecording(call, ringing);
    const myRole = store.members(call.meeting.room)?.find((m) => m.user.id === store.me)?.role;
    const mayEnd = call.meeting.host === store.me || room?.kind === "direct" || myRole === "owner" || myRole === "admin";
    $("#cancel-call").hidden = !ringing;
    $("#leave-call").hidden = ringing;
    $("#end-call").hidden = ringing || !mayEnd;
    // Cancel goes once someone answers: the keyboard's focus on it moves to Leave.
    const cancelled = document.activeElement === document.body || document.activeElement === $("#cancel-call");
    if (wasRinging && !ringing && cancelled) $("#leave-call").focus();
    wasRinging = ringing;
  }

  /** Joins a meeting: the call screen opens at once, and the camera, microphone and peers follow. */
  async function begin(meeting) {
    if (store.call) {
      if (store.call.id === meeting.id) return;
      throw new Error("You are already in a call. Leave it first.");
    }
    store.setIncoming(null);
    const call = new Call(live, api, meeting);
    call.addEventListener("changed", draw);
    call.addEventListener("problem", ({ detail }) => toast(detail.message));
    call.addEventListener("closed", () => {
      stopTone();
      // Its meeting.ended may come after leaving: that end is still this page's call's.
      left = { id: call.id, length: length() };
      if (store.call === call) store.setCall(null);
    });
    answeredAt = null;
    met = new Map();
    store.setCall(call);
    if (meeting.state === "ringing" && meeting.host === store.me) startTone("ringback");
    draw();
    try {
      await call.join();
    } catch (error) {
      call.close();
      throw error;
    }
    draw();
  }

  /** How long the call on screen has lasted since someone answered, in milliseconds, or null if nobody did. */
  const length = () => (answeredAt === null ? null : Date.now() - answeredAt);

  /**
   * What this page knows of meeting `id` as its call: {length} (null when nobody answered) while it is on screen or
   * was the last one left, else null.
   */
  function attended(id) {
    if (store.call?.id === id) return { length: length() };
    return left?.id === id ? { length: left.length } : null;
  }

  // An attendee's picture or name, learnt or changed during the call.
  store.on("users", () => store.call && draw());

  store.on("call", ({ call }) => {
    screen.hidden = call === null;
    document.body.classList.toggle("in-call", call !== null);
    document.body.classList.remove("call-aside");
    if (call !== null) {
      returnFocus = document.activeElement;
      draw();
      focusable(screen)[0]?.focus();
      return;
    }
    clearInterval(ticking);
    answeredAt = null;
    grid.replaceChildren();
    drawRecording(null);
    // Back where the user was, if it is still there to be focused, else the conversation's composer: once every view
    // has drawn the call's end (the Call button comes back with it).
    const before = returnFocus;
    returnFocus = null;
    queueMicrotask(() => (before?.isConnected && before.getClientRects().length ? before : $("#message-input"))?.focus());
  });

  // On a phone the call is the whole screen: Tab and Shift+Tab go round its controls, not behind it.
  screen.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || !phone.matches || document.body.classList.contains("call-aside")) return;
    const reachable = focusable(screen);
    if (reachable.length === 0) return;
    const [first, last] = [reachable[0], reachable.at(-1)];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  // Beside the call on a phone: the conversation of the call's room, with a bar that leads back (callPrompts.js).
  $("#show-chat").addEventListener(
    "click",
    act(async () => {
      const call = store.call;
      if (!call) return;
      document.body.classList.add("call-aside");
      if (store.current !== call.meeting.room) await sync.open(call.meeting.room);
      document.dispatchEvent(new Event("parley:call-aside"));
      $("#message-input").focus();
    }),
  );

  $("#call-button").addEventListener(
    "click",
    act(async () => {
      const reply = await live.request({ type: "meeting.start", room: store.current });
      await begin(reply.meeting);
    }),
  );

  $("#toggle-mic").addEventListener("click", act(() => store.call?.toggle("audio")));
  $("#toggle-cam").addEventListener("click", act(() => store.call?.toggle("video")));
  $("#toggle-screen").addEventListener("click", act(() => store.call?.toggleScreen()));
  // A start or stop of the recording on its way: the button does nothing more meanwhile (it stays enabled, so that
  // it keeps the keyboard's focus).
  let recordingBusy = false;
  $("#record").addEventListener(
    "click",
    act(async () => {
      const call = store.call;
      if (!call?.joined || recordingBusy) return;
      recordingBusy = true;
      try {
        await call.record(call.recording === null);
      } catch (error) {
        throw new Error(recordingErrors[error.code] ?? error.message);
      } finally {
        recordingBusy = false;
      }
    }),
  );
  // Cancelling is the caller leaving before anyone answered: the server ends the call as cancelled.
  $("#cancel-call").addEventListener("click", act(() => store.call?.leave()));
  $("#leave-call").addEventListener("click", act(() => store.call?.leave()));
  $("#end-call").addEventListener("click", act(() => store.call?.end()));

  return { begin, attended };
}
