// How a call's end reads, from the side of whoever reads it: the caller is told "Bob declined the call" or "Bob did
// not answer", the one who declined "You declined the call from Alice", the one who missed it "Missed call from
// Alice", and those who were in it "Call ended · 04:05".

import { duration } from "./call.js";

/**
 * The words for `meeting` ending for `reason`, or null when there is nothing to tell this page. `was` says what it
 * was to this page: "in" (it attended), "ringing" (it rang here), "declined" (it was declined here), or null.
 */
export function outcome(store, meeting, reason, was, length = null) {
  const room = store.room(meeting.room);
  const group = room?.kind === "group";
  const caller = meeting.host === store.me;
  const callee = room?.peer ? store.nameOf(room.peer.id) : null;
  const from = `${store.nameOf(meeting.host)}${group ? ` in ${room.name}` : ""}`;
  if (was === "declined") return `You declined the call from ${from}.`;
  if (caller && was === "in" && length === null) {
    if (reason === "declined") return group || !callee ? "Nobody took the call: everyone declined." : `${callee} declined the call.`;
    if (reason === "missed") return group || !callee ? "No answer." : `${callee} did not answer.`;
    if (reason === "cancelled") return "Call cancelled.";
  }
  if (was === "ringing" && !caller) return `Missed call from ${from}.`;
  if (was === "in") return length === null ? "The call ended." : `Call ended · ${duration(length)}`;
  return null;
}

/** Whether the end of a call that rang here leaves it missed: nobody here answered, and the caller gave up or it timed out. */
export const missedHere = (reason, was) => was === "ringing" && (reason === "missed" || reason === "cancelled");
