// The ways into a call besides the Call button: the incoming call's card, below the header so that it hides
// neither the room's name nor its buttons, which Escape declines; and the bar atop a room whose call is on while
// this page is not in it ("Join call", also after a reload), or, on a phone with the chat shown, leads back to it;
// and the Join button of a call's line in the conversation.

import { $ } from "../dom.js";
import { act } from "./feedback.js";
import { startTone, stopTone } from "./tone.js";

export function mountCallPrompts({ live, store, calls }) {
  const card = $("#incoming");
  const bar = $("#join-bar");
  // Meetings this page declined: their end is worded from the decliner's side (callOutcome.js).
  const declined = new Set();

  store.on("incoming", ({ meeting }) => {
    card.hidden = meeting === null;
    if (meeting === null) {
      if (!store.call) stopTone();
      return;
    }
    const room = store.room(meeting.room);
    $("#incoming-who").textContent = `${store.nameOf(meeting.host)} is calling${room?.kind === "group" ? ` in ${room.name}` : ""}.`;
    startTone("ring");
    $("#accept-call").focus();
  });

  const decline = act(async () => {
    const meeting = store.incoming;
    store.setIncoming(null);
    if (!meeting) return;
    declined.add(meeting.id);
    await live.request({ type: "meeting.decline", meeting: meeting.id });
  });

  $("#accept-call").addEventListener(
    "click",
    act(async () => {
      const meeting = store.incoming;
      if (!meeting) return;
      store.setIncoming(null);
      await calls.begin(meeting);
    }),
  );
  $("#decline-call").addEventListener("click", decline);

  // Escape declines a ringing call, unless a dialog or menu open above it takes the key first.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || card.hidden || event.defaultPrevented || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    decline();
  });

  /** The bar of the open room: its call, when this page is not in it, or the way back to it from the chat. */
  function drawBar() {
    const room = store.room(store.current);
    const meeting = room?.meeting ?? null;
    const call = store.call;
    const aside = document.body.classList.contains("call-aside");
    // The room of the call on screen has no Call button: its call is on.
    $("#call-button").hidden = !room || call?.meeting.room === room.id;
    let text = null;
    let action = "Join call";
    if (call && call.meeting.room === room?.id) {
      if (aside) [text, action] = ["You are in this call.", "Return to call"];
    } else if (meeting) {
      const there = (meeting.attendees ?? []).filter((a) => !a.recorder).map((a) => store.nameOf(a.user));
      if (meeting.state === "ringing" && meeting.host !== store.me) text = `${store.nameOf(meeting.host)} is calling.`;
      else text = there.length ? `A call is on with ${[...new Set(there)].join(", ")}.` : "A call is on in this room.";
    }
    bar.hidden = text === null;
    if (text === null) return;
    $("#join-text").textContent = text;
    $("#join-call").textContent = action;
  }

  $("#join-call").addEventListener(
    "click",
    act(async () => {
      const call = store.call;
      if (call && call.meeting.room === store.current) {
        document.body.classList.remove("call-aside");
        drawBar();
        return $("#toggle-mic").focus();
      }
      const meeting = store.room(store.current)?.meeting;
      if (meeting) await calls.begin(meeting);
    }),
  );

  // A call's line in the conversation offers to join its call while it is on.
  document.addEventListener(
    "parley:join-call",
    act(async ({ detail }) => {
      const meeting = store.rooms.map((room) => room.meeting).find((held) => held?.id === detail.meeting);
      if (!meeting || store.call?.id === meeting.id) return;
      // Joining a call that rings here answers it.
      if (store.incoming?.id === meeting.id) store.setIncoming(null);
      await calls.begin(meeting);
    }),
  );

  store.on("current", drawBar);
  store.on("call", drawBar);
  store.on("room", ({ id }) => id === store.current && drawBar());
  document.addEventListener("parley:call-aside", drawBar);

  return { declined };
}
