// The call screen (a tile per attendee, keyed by connection, the controls, and whether the call is recorded) and the
// incoming-call prompt. The Call itself (js/call.js) holds the peer connections; this draws it whenever it changes.

import { Call } from "../call.js";
import { $, h } from "../dom.js";
import { personOf, refreshAvatar, userAvatar } from "./avatar.js";
import { act, toast } from "./feedback.js";
import { startTone, stopTone } from "./tone.js";

// What a refused start or stop of a recording means, by the error's code.
const recordingErrors = {
  recorder_unavailable: "No recorder is running on this server.",
  recording_forbidden: "This group does not allow recording its calls.",
  forbidden: "Only the call's attendees can record it.",
  meeting_ended: "The call has ended.",
};

function setToggle(button, on, label, device) {
  button.textContent = `${label} ${on ? "on" : "off"}`;
  button.setAttribute("aria-pressed", String(!on));
  button.setAttribute("aria-label", `Turn the ${device} ${on ? "off" : "on"}`);
  button.classList.toggle("off", !on);
}

export function mountCall({ api, live, store }) {
  /** An attendee's tile: their video, and their face in its place while their camera is off. */
  function tileNode(tile) {
    const name = store.nameOf(tile.user);
    const video = h("video", { autoplay: true, playsinline: true, muted: tile.local, "aria-label": tile.local ? "Your camera" : `Video of ${name}` });
    video.muted = tile.local;
    const face = userAvatar(store, tile.user, "large");
    return h("figure", { class: `tile${tile.local ? " local" : ""}`, dataset: { conn: tile.conn, user: tile.user } }, video, face, h("figcaption", {}));
  }

  const grid = $("#grid");

  /** The recording's indicator and button, for everyone in the call; not recording when there is no call. */
  function drawRecording(call) {
    const on = call?.recording != null;
    $("#call").dataset.recording = String(on);
    $("#recording-indicator").hidden = !on;
    const button = $("#record");
    button.textContent = on ? "Stop recording" : "Record";
    button.setAttribute("aria-pressed", String(on));
    button.disabled = !call?.joined;
    // A group whose owner or admins forbade recording offers no button to start one.
    button.hidden = !on && call != null && store.room(call.meeting.room)?.recordingAllowed === false;
  }

  function draw() {
    const call = store.call;
    if (!call) return;
    const room = store.room(call.meeting.room);
    const others = call.participants.filter((a) => a.conn !== live.conn);
    if (others.length > 0) stopTone();
    const place = room?.kind === "group" ? ` in ${room.name}` : "";
    $("#call-status").textContent =
      others.length === 0 ? `Calling ${room?.name ?? ""}…` : `In a call${place} with ${others.map((a) => store.nameOf(a.user)).join(", ")}`;
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
    drawRecording(call);
    const myRole = store.members(call.meeting.room)?.find((m) => m.user.id === store.me)?.role;
    $("#end-call").hidden = !(call.meeting.host === store.me || room?.kind === "direct" || myRole === "owner" || myRole === "admin");
  }

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
      if (store.call === call) store.setCall(null);
    });
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

  // An attendee's picture or name, learnt or changed during the call.
  store.on("users", () => store.call && draw());

  store.on("call", ({ call }) => {
    $("#call").hidden = call === null;
    document.body.classList.toggle("in-call", call !== null);
    if (call === null) {
      grid.replaceChildren();
      drawRecording(null);
    }
  });

  store.on("incoming", ({ meeting }) => {
    $("#incoming").hidden = meeting === null;
    if (meeting === null) {
      if (!store.call) stopTone();
      return;
    }
    const room = store.room(meeting.room);
    $("#incoming-who").textContent = `${store.nameOf(meeting.host)} is calling${room?.kind === "group" ? ` in ${room.name}` : ""}.`;
    startTone("ring");
    $("#accept-call").focus();
  });

  $("#call-button").addEventListener(
    "click",
    act(async () => {
      const reply = await live.request({ type: "meeting.start", room: store.current });
      await begin(reply.meeting);
    }),
  );

  $("#accept-call").addEventListener(
    "click",
    act(async () => {
      const meeting = store.incoming;
      if (!meeting) return;
      store.setIncoming(null);
      await begin(meeting);
    }),
  );

  $("#decline-call").addEventListener(
    "click",
    act(async () => {
      const meeting = store.incoming;
      store.setIncoming(null);
      if (meeting) await live.request({ type: "meeting.decline", meeting: meeting.id });
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
  $("#leave-call").addEventListener("click", act(() => store.call?.leave()));
  $("#end-call").addEventListener("click", act(() => store.call?.end()));
}
