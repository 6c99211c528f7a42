import ParleyCore
import ServiceLifecycle

/// Parley's durable state. Every operation that changes state is one transaction, and every rule about who may
/// do what (`RoomPolicy`) is checked inside it. A room the actor is not a member of is `not_found`, so that a
/// non-member cannot learn that it exists.
///
/// It is a `Service`: the node runs it for as long as it serves, and its connections close when it stops.
public protocol Store: Service {
    /// Applies the migrations that are missing and returns their versions.
    func migrate() async throws -> [String]
    /// Throws unless the database answers.
    func ping() async throws

    // MARK: Users and credentials
    func createUser(username: String, name: String, passwordHash: String) async throws -> User
    /// The user and their password hash, for login.
    func credentials(username: String) async throws -> (user: User, passwordHash: String)?
    func user(id: String) async throws -> User?
    func searchUsers(_ query: String, limit: Int) async throws -> [User]
    /// Sets or clears the user's avatar image and returns the user and the image it replaced.
    func setAvatar(of id: String, to avatar: String?) async throws -> (user: User, replaced: String?)

    func insertRefreshToken(_ token: RefreshToken) async throws
    /// Uses up `presentedHash` and stores `next` in the same family. A token that is unknown, expired or revoked
    /// is `unauthorized`. A token that was already used revokes its whole family, because one of the two holders is
    /// a thief, and throws `RefreshTokenReused`.
    /// Returns the family's user and the family (the session) it continues.
    func rotateRefreshToken(presentedHash: String, next: RefreshToken, now: Timestamp) async throws -> (userId: String, session: String)
    /// Revokes the family of a token and returns its user and the family, or nil when the token is unknown.
    func revokeRefreshToken(hash: String, now: Timestamp) async throws -> (userId: String, session: String)?
    /// Revokes every family of the user's that is not revoked yet, and returns them.
    func revokeSessions(of user: String, now: Timestamp) async throws -> [String]
    /// Whether a refresh-token family (a session) of the user's exists and is not revoked: its access tokens are
    /// good while it is.
    func isLiveSession(_ session: String, user: String) async throws -> Bool

    // MARK: Contacts
    /// Makes the two users contacts of each other, with their direct room. Idempotent from either side.
    func addContact(owner: String, username: String) async throws -> (contact: Contact, created: Bool)
    func contacts(of user: String) async throws -> [Contact]

    // MARK: Rooms and members
    func rooms(of user: String) async throws -> [RoomSummary]
    /// The ids of the rooms each of `users` is a member of, sorted, in one read; a user in no room is left out.
    func roomIds(of users: [String]) async throws -> [String: [String]]
    /// The user's role in a room, or nil when they are not a member.
    func role(of user: String, in room: String) async throws -> Role?
    func room(_ id: String, viewer: String) async throws -> RoomDetail
    func createGroup(owner: String, name: String, members: [String]) async throws -> RoomDetail
    func renameRoom(_ id: String, name: String, actor: String) async throws -> RoomDetail
    /// Deletes a group and returns the ids of the members it had.
    func deleteRoom(_ id: String, actor: String) async throws -> [String]
    func addMember(room: String, user: String, role: Role, actor: String) async throws -> Member
    func changeRole(room: String, user: String, role: Role, actor: String) async throws -> RoomDetail
    /// Removes a member, or the actor themselves. An owner who leaves hands ownership on; a group left empty is deleted.
    func removeMember(room: String, user: String, actor: String) async throws -> MemberRemoval

    // MARK: Files
    /// Records a file announced for upload by a member of its room; `not_found` for anyone else.
    func createFile(_ file: StoredFile) async throws
    /// The file, if `viewer` is a member of its room (or no viewer is named).
    func file(_ id: String, viewer: String?) async throws -> StoredFile?
    /// Marks the file's bytes as in, once; false when they were already.
    func markFileStored(_ id: String, at time: Timestamp) async throws -> Bool
    /// Removes the records of files no message carries that were announced before `cutoff`, and returns them.
    func sweepUnsentFiles(before cutoff: Timestamp, limit: Int) async throws -> [StoredFile]
    /// Takes up to `limit` keys of bytes whose files went with a deleted room, for them to be removed.
    func takeTrash(limit: Int) async throws -> [String]

    /// Stores a message as `send` does, with files or as a reply, in one transaction: each file must be the
    /// sender's, announced for this room, with its bytes in, and not sent before; `replyTo` must be a message of the
    /// room that is not deleted (`invalid_field` otherwise).
    func send(room: String, sender: String, clientId: String, text: String, files: [String], replyTo: Int64?) async throws -> Sent

    // MARK: Messages
    /// Stores a message with the room's next `seq` and an outbox row, in one transaction. A retried `clientId`
    /// returns the original message with `created == false`.
    func send(room: String, sender: String, clientId: String, text: String) async throws -> Sent
    func messages(room: String, viewer: String, page: Page) async throws -> [Message]
    /// Blanks a message's text, keeping its `seq`, and writes an outbox row.
    func deleteMessage(room: String, seq: Int64, actor: String) async throws -> Sent
    /// Moves the reader's read mark forward to `seq` (never back), and returns what is left unread (as
    /// `RoomSummary.unread` counts it); nil when the mark was at `seq` or beyond already, and did not move.
    func markRead(room: String, user: String, seq: Int64) async throws -> Int64?
    /// Changes the text of one's own message, keeping its `seq`, and writes `message.edited` to the outbox. The
    /// same text again changes nothing (`created` false).
    func editMessage(room: String, seq: Int64, actor: String, text: String) async throws -> Sent
    /// Adds (`on`) or takes back a member's emoji on a message, with a `reaction.*` outbox row; nil when it changed
    /// nothing (given twice, or taken back when not given).
    func react(room: String, seq: Int64, user: String, emoji: String, on: Bool) async throws -> OutboxEntry?
    /// The members of the room, other than the sender, whose usernames are among `usernames`.
    func mentioned(_ usernames: Set<String>, in room: String, by sender: String) async throws -> [String]
    /// Messages of the viewer's rooms (or of one of them) holding every word of `query` (each as a prefix), best
    /// match first; deleted messages are never found.
    func search(_ query: SearchQuery, viewer: String) async throws -> [Message]

    // MARK: Meetings
    /// Starts a ringing meeting in a room, ringing for `ringSeconds`, or returns the room's open one with
    /// `created == false`: dialling twice, or both sides at once, ends up in one meeting.
    func startMeeting(room: String, host: String, ringSeconds: Int64) async throws -> (change: MeetingChange, created: Bool)
    /// A meeting with its attendees, for a member of its room.
    func meeting(_ id: String, viewer: String) async throws -> Meeting
    /// The ringing and active meetings of the user's rooms, leaving out rings the user declined.
    func openMeetings(of user: String) async throws -> [Meeting]
    /// Answers a ringing meeting: it becomes active. Accepting an active meeting changes nothing.
    func acceptMeeting(_ id: String, user: String) async throws -> MeetingChange
    /// Stops the ring for the user; once every member called declined, the meeting is declined. The host
    /// declining cancels it.
    func declineMeeting(_ id: String, user: String) async throws -> MeetingChange
    /// Ends an open meeting for everyone (see `RoomPolicy.canEndMeeting`); an ended one is left as it is.
    func endMeeting(_ id: String, actor: String) async throws -> MeetingChange
    /// Adds a connection to an open meeting of `capacity` attendees at most. Anyone but the host joining a
    /// ringing meeting answers it. Joining again changes nothing.
    func joinMeeting(_ id: String, attendee: Attendee, capacity: Int) async throws -> MeetingChange
    /// Removes a connection from a meeting, ending the meeting if it was the last; nil when it was not there.
    func leaveMeeting(_ id: String, conn: String) async throws -> MeetingChange?
    func updateMedia(_ id: String, conn: String, media: MediaState) async throws -> Attendee
    func attendee(_ id: String, conn: String) async throws -> Attendee?
    /// The nodes that hold attendees.
    func attendeeNodes() async throws -> [String]
    /// Removes every attendee held by a dead node, ending the meetings it leaves empty.
    func removeAttendees(node: String) async throws -> [MeetingChange]
    /// Turns the ringing meetings whose ring ran out into missed ones.
    func expireRings(now: Timestamp) async throws -> [MeetingChange]

    // MARK: Recordings
    /// Starts recording an open meeting for an attendee of it, or finds the recording running (`created` false).
    /// `recorder_unavailable` unless more workers asked for a job at `workersIdleSince` or later than jobs wait for
    /// one; `recording_forbidden` in a group that forbids it.
    func startRecording(meeting: String, by user: String, workersIdleSince: Timestamp) async throws -> RecordingChange
    /// Stops the meeting's recording for an attendee of it; the change's job is nil when none was running.
    func stopRecording(meeting: String, by user: String) async throws -> RecordingChange
    /// A worker asks for a job: it gets the oldest pending one, or one whose lease lapsed (as its next part), with a
    /// lease of `lease` milliseconds; with none, the worker is noted as free.
    func claimRecording(worker: String, lease: Int64, now: Timestamp) async throws -> RecordingJob?
    /// Extends the lease of a job the worker holds for this part; nil when it holds it no more.
    func renewRecording(_ id: String, worker: String, part: Int, lease: Int64, now: Timestamp) async throws -> RecordingJob?
    /// The worker is done with its part: a stopping job is done; a running one fails when the worker `lost` it, and
    /// is otherwise let go (its lease lapses at `now`), for the next worker free to record as its next part. Nil when
    /// the worker holds the job no more.
    func finishRecording(_ id: String, worker: String, part: Int, lost: Bool, now: Timestamp) async throws -> RecordingChange?
    func recording(_ id: String) async throws -> RecordingJob?
    /// When a meeting started, whoever asks: for the recorder, which posts its recordings.
    func meetingStart(_ id: String) async throws -> Timestamp
    /// Ends the jobs nobody will finish: pending ones no worker claimed, and ones whose lease lapsed, both `grace`
    /// milliseconds ago. Returns those that were running, whose attendees are to be told.
    func expireRecordings(now: Timestamp, grace: Int64) async throws -> [RecordingChange]
    /// Allows or forbids recording a group's meetings: its owner and admins decide.
    func setRecordingAllowed(room: String, allowed: Bool, actor: String) async throws

    // MARK: Outbox
    /// Removes an outbox row once its event is published, soon if not at once.
    func markPublished(outbox id: Int64)
    /// Publishes what was committed but not published: claims outbox rows older than `olderThan` (skipping rows
    /// another node holds, so that nodes share the work), hands each to `publish`, and deletes the ones it
    /// published. Returns how many it published.
    func relayOutbox(olderThan: Timestamp, limit: Int, publish: (OutboxEntry) async throws -> Void) async throws -> Int
}

/// A refresh token as the store keeps it: only the hash of the secret the client holds.
public struct RefreshToken: Sendable, Hashable {
    public var hash: String
    public var userId: String
    public var familyId: String
    public var expiresAt: Timestamp

    public init(hash: String, userId: String, familyId: String, expiresAt: Timestamp) {
        self.hash = hash
        self.userId = userId
        self.familyId = familyId
        self.expiresAt = expiresAt
    }
}

/// A stored message and whether this call stored it (false for a retry, or a repeated delete).
public struct Sent: Sendable, Hashable {
    public var message: Message
    public var created: Bool
    /// The event to publish, committed to the outbox; nil when nothing new was written.
    public var outbox: OutboxEntry?
    /// The files a deletion took out of the store, whose bytes are to go too.
    public var removedFiles: [StoredFile] = []
}

/// What removing a member did.
public struct MemberRemoval: Sendable, Hashable {
    /// Who owns the group now, when the owner left.
    public var newOwner: String?
    /// True when the group had no members left and is gone.
    public var roomDeleted: Bool
}

/// Errors of the store itself, as opposed to the `ParleyError`s it gives users.
public struct StoreError: Error, CustomStringConvertible {
    public var description: String
    static let migrationsMissing = StoreError(description: "this build holds no migrations")
}
