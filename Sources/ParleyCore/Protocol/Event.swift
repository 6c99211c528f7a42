/// A frame the server sends, as it travels over the bus and reaches clients: every server frame of
/// docs/protocol.md but the replies (`Reply`), and the two that only nodes hear (`sessionClosed`, `sessionsRevoked`).
///
/// Fields sit flat beside `type`, as the wire protocol has them: `{"type":"message.created","room":"r1","seq":42,…}`.
public enum Event: Hashable, Sendable {
    case hello(Hello)
    case messageCreated(Message)
    case messageDeleted(Message)
    /// Its sender changed its text: the message as it is now.
    case messageEdited(Message)
    case reactionAdded(ReactionChange)
    case reactionRemoved(ReactionChange)
    /// On the mentioned user's channel: a message names them.
    case mention(Mention)
    /// On the reader's own channel: their read mark in a room moved (on any of their devices), leaving `unread`.
    case roomRead(room: String, seq: Int64, unread: Int64)
    case replayDone(room: String, truncated: Bool)
    /// The room appears in the recipient's list; `by` is who made them a member (or created it).
    case roomAdded(RoomSummary, by: String?)
    /// A group's name or settings changed: the room as the recipient sees it now.
    case roomUpdated(RoomSummary)
    case roomRemoved(room: String)
    case memberAdded(room: String, member: Member)
    case memberRemoved(room: String, user: String)
    /// The user came online or went offline; sent on each of the user's rooms.
    case presence(room: String, user: String, online: Bool)
    case typing(room: String, user: String)
    /// A member's read mark moved, so that others can show what was seen.
    case read(room: String, user: String, seq: Int64)
    case meetingRinging(Meeting)
    case meetingActive(Meeting)
    case meetingEnded(Meeting, reason: MeetingEndReason?)
    case attendeeJoined(AttendeeChange)
    case attendeeLeft(AttendeeChange)
    case attendeeMedia(AttendeeChange)
    /// To a meeting's attendees.
    case recordingStarted(RecordingNotice)
    /// To a meeting's attendees.
    case recordingStopped(RecordingNotice)
    /// To whoever started the recording: it was posted in the room.
    case recordingReady(RecordingNotice)
    case signal(RelayedSignal)
    case error(ErrorFrame)
    /// On a user's channel at sign-out: the sockets of `session` close with 4001, or all the user's when it is nil.
    /// Nodes act on it; clients see only the close.
    case sessionClosed(session: String?)
    /// On `Channel.sessions`: these sessions' access tokens are no good any more. Only nodes hear it.
    case sessionsRevoked([String])

    /// The value of `type` on the wire, one for each kind of event.
    public enum Kind: String, Sendable, CaseIterable {
        case hello
        case messageCreated = "message.created"
        case messageDeleted = "message.deleted"
        case messageEdited = "message.edited"
        case reactionAdded = "reaction.added"
        case reactionRemoved = "reaction.removed"
        case mention
        case roomRead = "room.read"
        case replayDone = "replay.done"
        case roomAdded = "room.added"
        case roomUpdated = "room.updated"
        case roomRemoved = "room.removed"
        case memberAdded = "member.added"
        case memberRemoved = "member.removed"
        case presence
        case typing
        case read
        case meetingRinging = "meeting.ringing"
        case meetingActive = "meeting.active"
        case meetingEnded = "meeting.ended"
        case attendeeJoined = "attendee.joined"
        case attendeeLeft = "attendee.left"
        case attendeeMedia = "attendee.media"
        case recordingStarted = "recording.started"
        case recordingStopped = "recording.stopped"
        case recordingReady = "recording.ready"
        case signal
        case error
        case sessionClosed = "session.closed"
        case sessionsRevoked = "sessions.revoked"

        /// Events of a room's channel that reach a connection only while it subscribes to the room.
        public var isRoomEvent: Bool {
            switch self {
            case .messageCreated, .messageDeleted, .messageEdited, .reactionAdded, .reactionRemoved, .typing, .read, .memberAdded,
                .memberRemoved, .presence:
                true
            default: false
            }
        }

        /// Events for a meeting's attendees, not its whole room.
        public var isAttendeeEvent: Bool {
            switch self {
            case .attendeeJoined, .attendeeLeft, .attendeeMedia, .recordingStarted, .recordingStopped: true
            default: false
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .messageCreated: .messageCreated
        case .messageDeleted: .messageDeleted
        case .messageEdited: .messageEdited
        case .reactionAdded: .reactionAdded
        case .reactionRemoved: .reactionRemoved
        case .mention: .mention
        case .roomRead: .roomRead
        case .replayDone: .replayDone
        case .roomAdded: .roomAdded
        case .roomUpdated: .roomUpdated
        case .roomRemoved: .roomRemoved
        case .memberAdded: .memberAdded
        case .memberRemoved: .memberRemoved
        case .presence: .presence
        case .typing: .typing
        case .read: .read
        case .meetingRinging: .meetingRinging
        case .meetingActive: .meetingActive
        case .meetingEnded: .meetingEnded
        case .attendeeJoined: .attendeeJoined
        case .attendeeLeft: .attendeeLeft
        case .attendeeMedia: .attendeeMedia
        case .recordingStarted: .recordingStarted
        case .recordingStopped: .recordingStopped
        case .recordingReady: .recordingReady
        case .signal: .signal
        case .error: .error
        case .sessionClosed: .sessionClosed
        case .sessionsRevoked: .sessionsRevoked
        }
    }

    /// The event that tells a meeting's state: ringing, active, or ended with the meeting's reason.
    public static func meeting(_ meeting: Meeting) -> Event {
        switch meeting.state {
        case .ringing: .meetingRinging(meeting)
        case .active: .meetingActive(meeting)
        case .ended, .declined, .missed: .meetingEnded(meeting, reason: meeting.endReason)
        }
    }
}

/// `hello`: the first frame on a socket.
public struct Hello: Codable, Hashable, Sendable {
    /// The connection's id, `{node}.{n}`: what signals address.
    public var conn: String
    public var user: String
    public var node: String
    /// How often the server pings, in milliseconds.
    public var heartbeatMs: Int

    public init(conn: String, user: String, node: String, heartbeatMs: Int) {
        self.conn = conn
        self.user = user
        self.node = node
        self.heartbeatMs = heartbeatMs
    }
}

/// `attendee.joined`, `attendee.left`, `attendee.media`: an attendee as it is now. `meeting` is the meeting's id.
public struct AttendeeChange: Codable, Hashable, Sendable {
    public var room: String
    public var meeting: String
    public var attendee: Attendee

    public init(room: String, meeting: String, attendee: Attendee) {
        self.room = room
        self.meeting = meeting
        self.attendee = attendee
    }
}

/// A signal as the server relays it: `from` and `fromUser` are the sender's, set by the server; `to` routes it on
/// the target's node.
public struct RelayedSignal: Codable, Hashable, Sendable {
    public var meeting: String
    public var from: String
    public var fromUser: String
    public var to: String
    public var kind: SignalKind
    public var payload: JSONValue?

    public init(meeting: String, from: String, fromUser: String, to: String, kind: SignalKind, payload: JSONValue?) {
        self.meeting = meeting
        self.from = from
        self.fromUser = fromUser
        self.to = to
        self.kind = kind
        self.payload = payload
    }
}

/// `error`: a frame that failed, in reply to `re` when it had an id. A `peer_gone` bounce names the signal's
/// sender (`to`, which routes it), the `peer` that is gone, and the `meeting`.
public struct ErrorFrame: Hashable, Sendable {
    public var re: String?
    public var error: ParleyError
    public var to: String?
    public var peer: String?
    public var meeting: String?

    public init(re: String? = nil, _ error: ParleyError, to: String? = nil, peer: String? = nil, meeting: String? = nil) {
        self.re = re
        self.error = error
        self.to = to
        self.peer = peer
        self.meeting = meeting
    }
}
