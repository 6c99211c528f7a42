// Parley's web client: sign in, rooms, chat, files and calls, in plain ES modules with no build step. This file puts
// it together: it makes the REST API (api.js), the socket (live.js), files' uploads and downloads (files.js) and the
// store (store.js), mounts the views (views/) on them, and turns every event from the socket into a change of the
// store, which the views then draw.

import { Api } from "./api.js";
import { Files } from "./files.js";
import { Live } from "./live.js";
import { Store } from "./store.js";
import { Sync } from "./sync.js";
import { exposeForTests } from "./testhook.js";
import { mountAuth } from "./views/auth.js";
import { mountCall } from "./views/call.js";
import { mountComposer } from "./views/composer.js";
import { mountFeedback, toast } from "./views/feedback.js";
import { mountMessages } from "./views/messages.js";
import { mountPeople } from "./views/people.js";
import { mountProfile } from "./views/profile.js";
import { mountRooms } from "./views/rooms.js";
import { stopTone } from "./views/tone.js";

const api = new Api();
const live = new Live(api, { node: new URLSearchParams(location.search).get("node") });
const store = new Store();
const files = new Files(api);
const sync = new Sync({ api, live, store, files });
const app = { api, live, store, sync, files };
for (const mount of [mountFeedback, mountAuth, mountRooms, mountMessages, mountComposer, mountPeople, mountProfile, mountCall]) mount(app);
exposeForTests(app);

api.addEventListener("signedout", () => {
  live.stop();
  store.call?.close();
  location.reload();
});

const on = (type, handler) => live.addEventListener(type, ({ detail }) => handler(detail));

// MARK: The connection

on("online", (hello) => {
  store.setConnection({ online: true, node: hello.node });
  sync.refreshPresence().catch(() => {});
  // Back after a drop: sends cut off by it go again, with their clientIds.
  sync.resendFailed();
  if (store.call?.joined) {
    store.call.enter().catch((error) => {
      toast(`The call could not be rejoined: ${error.message}`);
      store.call?.close();
    });
  }
});

on("offline", () => store.setConnection({ online: false, node: null }));
on("signedout", () => api.forget());
on("failure", (error) => toast(error.message));

// MARK: Messages

const typingTimers = new Map();

function stopTyping(room, user) {
  clearTimeout(typingTimers.get(`${room} ${user}`));
  typingTimers.delete(`${room} ${user}`);
  store.setTyping(room, user, false);
}

on("message", (message) => {
  store.addMessages(message.room, [message]);
  const mine = message.sender === store.me;
  if (mine && store.pendingMessage(message.clientId)?.room === message.room) store.removePending(message.clientId);
  const room = store.room(message.room);
  if (room) {
    const read = !mine && message.room === store.current && !document.hidden;
    const unread = room.unread + (mine || read ? 0 : 1);
    store.updateRoom(room.id, { lastMessage: message, lastSeq: Math.max(room.lastSeq, message.seq), unread });
    if (read) sync.markRead(room.id);
  }
  stopTyping(message.room, message.sender);
});

on("message.deleted", (message) => {
  store.addMessages(message.room, [message]);
  if (store.room(message.room)?.lastMessage?.seq === message.seq) store.updateRoom(message.room, { lastMessage: message });
});

// Someone types for 4 seconds after each typing event of theirs, or until their message comes.
on("typing", ({ room, user }) => {
  if (user === store.me) return;
  clearTimeout(typingTimers.get(`${room} ${user}`));
  typingTimers.set(`${room} ${user}`, setTimeout(() => stopTyping(room, user), 4000));
  store.setTyping(room, user, true);
});

on("read", ({ room, user, seq }) => store.markRead(room, user, seq));

// MARK: Rooms and people

on("presence", ({ user, online }) => store.setPresence([{ user, online }]));

on("room.added", ({ room }) => {
  sync.addRoom(room);
  // A new contact's presence was announced to rooms this user was not in yet.
  sync
    .loadContacts()
    .then(() => sync.refreshPresence())
    .catch(() => {});
});

on("room.removed", ({ room }) => {
  store.removeRoom(room);
  live.unfollow(room);
});

for (const type of ["member.added", "member.removed"]) {
  on(type, ({ room }) => {
    if (!store.members(room)) return;
    // Fails when this user is the one removed: its room.removed says so.
    sync
      .loadMembers(room)
      .then((detail) => store.updateRoom(room, detail.room))
      .catch(() => {});
  });
}

// MARK: Meetings

function meetingChanged(meeting) {
  store.updateRoom(meeting.room, { meeting: meeting.state === "ringing" || meeting.state === "active" ? meeting : null });
}

on("meeting.ringing", ({ meeting }) => {
  meetingChanged(meeting);
  if (meeting.host !== store.me && store.call?.id !== meeting.id) store.setIncoming(meeting);
});

// Sent again, with the meeting as it then is, whenever a recording starts or stops: not each one is an answer.
on("meeting.active", ({ meeting }) => {
  meetingChanged(meeting);
  if (store.call?.id === meeting.id) store.call.updateMeeting(meeting);
  if (meeting.state !== "active") return;
  if (store.call?.id === meeting.id) stopTone();
  // A direct call answered (on another device, perhaps) rings no more; a group call may still be joined.
  if (store.room(meeting.room)?.kind === "direct" && store.incoming?.id === meeting.id) store.setIncoming(null);
});

const endings = {
  declined: "The call was declined.",
  missed: "Nobody answered the call.",
  cancelled: "The caller hung up.",
  empty: "The call ended.",
  ended: "The call was ended.",
};

on("meeting.ended", ({ meeting, reason }) => {
  meetingChanged(meeting);
  const mine = store.call?.id === meeting.id;
  const ringing = store.incoming?.id === meeting.id;
  if (mine || ringing) toast(endings[reason] ?? "The call ended.");
  if (ringing) store.setIncoming(null);
  if (mine) store.call.close();
});

/** A handler for the frames of the meeting this page attends; the others' are not for it. */
const forCall = (handler) => (frame) => store.call?.id === frame.meeting && handler(store.call, frame);

on("attendee.joined", forCall((call, { attendee }) => call.putAttendee(attendee)));
on("attendee.media", forCall((call, { attendee }) => call.putAttendee(attendee)));
on("attendee.left", forCall((call, { attendee }) => call.attendeeLeft(attendee)));
on("signal", forCall((call, frame) => call.receive(frame)));
on("peer_gone", forCall((call, frame) => call.drop(frame.peer)));

// MARK: Recordings

const recordingEndings = {
  stopped: "Recording stopped.",
  ended: "Recording stopped: the call ended.",
  recorder_lost: "Recording stopped: the recorder failed.",
  recorder_unavailable: "Recording stopped: no recorder is running on this server.",
};

on(
  "recording.started",
  forCall((call, { by }) => {
    call.setRecording({ by, startedAt: call.recording?.startedAt ?? new Date().toISOString() });
    toast(by === store.me ? "You started recording." : `${store.nameOf(by)} started recording.`);
  }),
);

on(
  "recording.stopped",
  forCall((call, { reason }) => {
    call.setRecording(null);
    toast(recordingEndings[reason] ?? "Recording stopped.");
  }),
);

// Only to the user who started the recording, perhaps once the call is over: its file is in a message in the room.
on("recording.ready", ({ file }) => toast(`The recording is in the room${file?.name ? ` (${file.name})` : ""}.`));

// MARK: Start

// The session survives a reload in the refresh cookie alone: until its refresh answers, neither form nor rooms show.
async function boot() {
  let signedIn;
  try {
    signedIn = await api.restore();
  } catch (error) {
    store.setMe(null);
    return toast(`You could not be signed in again: ${error.message}`);
  }
  if (!signedIn) return store.setMe(null);
  await sync.start().catch((error) => (error.status === 401 ? api.forget() : toast(error.message)));
}

boot();
