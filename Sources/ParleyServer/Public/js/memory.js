// What this browser remembers for the signed-in user across reloads, in localStorage under their id: the room they
// had open and the unsent draft of each room. Never a token or anything of the server's; signing out forgets it.

const prefix = "parley.memory.";

export class Memory {
  #user = null;
  #saved = { room: null, drafts: {} };

  /** Reads what was kept for `user` (an id), or starts afresh when nothing (or nothing readable) was. */
  load(user) {
    this.#user = user;
    this.#saved = { room: null, drafts: {} };
    try {
      const kept = JSON.parse(localStorage.getItem(prefix + user) ?? "null");
      if (kept && typeof kept === "object") this.#saved = { room: kept.room ?? null, drafts: { ...kept.drafts } };
    } catch {
      // Written by another version, or by hand: nothing to restore.
    }
  }

  get room() {
    return this.#saved.room;
  }

  set room(id) {
    this.#saved.room = id;
    this.#save();
  }

  draft(room) {
    return this.#saved.drafts[room] ?? "";
  }

  setDraft(room, text) {
    if (text) this.#saved.drafts[room] = text;
    else delete this.#saved.drafts[room];
    this.#save();
  }

  /** A room that is gone takes its draft along. */
  forgetRoom(room) {
    delete this.#saved.drafts[room];
    if (this.#saved.room === room) this.#saved.room = null;
    this.#save();
  }

  /** Signing out: nothing of this user's stays in the browser. */
  forget() {
    if (this.#user !== null) localStorage.removeItem(prefix + this.#user);
    this.#user = null;
    this.#saved = { room: null, drafts: {} };
  }

  #save() {
    if (this.#user === null) return;
    try {
      localStorage.setItem(prefix + this.#user, JSON.stringify(this.#saved));
    } catch {
      // Storage full or refused (a private window): the draft lives on in the page only.
    }
  }
}
