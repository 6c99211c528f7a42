// Parley's web client: sign in, rooms, chat, files and calls, in plain ES modules with no build step. This file puts
// it together: it makes the REST API (api.js), the socket (live.js), files' uploads and downloads (files.js) and the
// store (store.js), mounts the views (views/) on them, and turns every event from the socket into a change of the
// store, which the views then draw.

import { Api } from "./api.js";
import { Files } from "./files.js";
import { Live } from "./live.js";
import { Memory } from "./memory.js";
import { Store } from "./store.js";
import { Sync } from "./sync.js";
import { exposeForTests } from "./testhook.js";
import { mountAuth } from "./views/auth.js";
import { mountCall } from "./views/call.js";
import { countsUnread, missedCall } from "./views/callEntry.js";
import { missedHere, outcome } from "./views/callOutcome.js";
import { mountCallPrompts } from "./views/callPrompts.js";
import { mountComposer } from "./views/composer.js";
import { mountFeedback, toast } from "./views/feedback.js";
import { mountMessages } from "./views/messages.js";
import { mountNotifications } from "./views/notify.js";
import { mountPeople } from "./views/people.js";
import { mountProfile } from "./views/profile.js";
import { mountRooms } from "./views/rooms.js";
import { mountSearch } from "./views/search.js";
import { stopTone } from "./views/tone.js";

const api = new Api();
const live = new Live(api, { node: new URLSearchParams(location.search).get("node") });
const store = new Store();
const files = new Files(api);
const memory = new Memory();
const sync = new Sync({ api, live, store, files, memory });
const app = { api, live, store, sync, files, memory };
for (const mount of [mountFeedback, mountAuth, mountRooms, mountMessages, mountComposer, mountPeople, mountProfile, mountNotifications, mountSearch]) mount(app);
const calls = mountCall(app);
const prompts = mountCallPrompts({ ...app, calls });
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
    // Counted as the server counts: messages and missed calls from others, not a call's start, answer or decline.
    const counted = !mine && !read && countsUnread(store, message);
    const changes = { lastMessage: message, lastSeq: Math.max(room.lastSeq, message.seq), unread: room.unread + (counted ? 1 : 0) };
    if (counted && missedCall(store, message)) changes.missedCalls = (room.missedCalls ?? 0) + 1;
    store.updateRoom(room.id, changes);
    if (read) sync.markRead(room.id);
  }
  stopTyping(message.room, message.sender);
});

// A message deleted or edited: its node, what replies quote of it, and the room's preview when it is the last.
for (const type of ["message.deleted", "message.edited"]) {
  on(type, (message) => {
    store.addMessages(message.room, [message]);
    store.requote(message);
    if (store.room(message.room)?.lastMessage?.seq === message.seq) store.updateRoom(message.room, { lastMessage: message });
  });
}

on("reaction.added", ({ room, seq, user, emoji }) => store.react(room, seq, user, emoji, true));
on("reaction.removed", ({ room, seq, user, emoji }) => store.react(room, seq, user, emoji, false));

// Someone types for 4 seconds after each typing event of theirs, or until their message comes.
on("typing", ({ room, user }) => {
  if (user === store.me) return;
  clearTimeout(typingTimers.get(`${room} ${user}`));
  typingTimers.set(`${room} ${user}`, setTimeout(() => stopTyping(room, user), 4000));
  store.setTyping(room, user, true);
});

on("read", ({ room, user, seq }) => store.markRead(room, user, seq));

// This user read the room on another device (or this one): its badge follows.
on("room.read", ({ room, seq, unread }) => {
  const changes = { lastRead: seq, unread };
  // Read to its end, the room has no call left unseen either.
  if (unread === 0) Object.assign(changes, { missedCalls: 0, missedCall: null });
  store.updateRoom(room, changes);
});

// MARK: Rooms and people

on("presence", ({ user, online }) => store.setPresence([{ user, online }]));

on("room.added", (event) => {
  const room = event.room;
  // Someone else made it: the user is told who added them. The event names the adder where the server says.
  if (sync.isNews(room.id)) {
    // The adder of a direct room is its peer, whom this page may not know yet.
    const adder = event.by ?? room.peer?.id;
    const by = adder === room.peer?.id ? room.peer?.name : store.user(adder)?.name;
    if (room.kind === "direct") toast(`${by ?? "Someone"} added you as a contact.`);
    else toast(by ? `${by} added you to ${room.name}.` : `You were added to ${room.name}.`);
  }
  sync.addRoom(room);
  // A new contact's presence was announced to rooms this user was not in yet.
  sync
    .loadContacts()
    .then(() => sync.refreshPresence())
    .catch(() => {});
});

// A room renamed, or otherwise changed, by someone: its summary anew.
on("room.updated", ({ room }) => room?.id && store.room(room.id) && store.putRoom(room));

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

on("meeting.ended", ({ meeting, reason }) => {
  meetingChanged(meeting);
  const mine = store.call?.id === meeting.id;
  const attended = calls.attended(meeting.id);
  const ringing = store.incoming?.id === meeting.id;
  const was = prompts.declined.has(meeting.id) ? "declined" : attended ? "in" : ringing ? "ringing" : null;
  const words = outcome(store, meeting, reason, was, attended?.length ?? null);
  if (words) toast(words);
  if (missedHere(reason, was)) store.updateRoom(meeting.room, { missedCall: { from: meeting.host, at: new Date().toISOString() } });
  prompts.declined.delete(meeting.id);
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
