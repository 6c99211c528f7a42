/// Where a meeting is in its life: it rings, becomes active once someone answers, and ends one of three ways.
public enum MeetingState: String, Codable, Sendable, CaseIterable {
    case ringing
    case active
    /// Ended by its host, by an admin, or by its last attendee leaving.
    case ended
    /// Every member called declined.
    case declined
    /// Nobody answered before the ring timed out.
    case missed

    /// Ringing or active: the room's meeting, which dialling again joins.
    public var isOpen: Bool { self == .ringing || self == .active }
}

/// Why a meeting ended, as `meeting.ended {reason}` says it.
public enum MeetingEndReason: String, Codable, Sendable {
    /// The host, or an owner or admin of the room, ended it.
    case ended
    /// The last attendee left, or their socket or node went away.
    case empty
    /// The caller hung up before anyone answered.
    case cancelled
    case declined
    case missed
}

/// What an attendee sends: the wire's `media {audio, video, screen}`.
public struct MediaState: Codable, Hashable, Sendable {
    public var audio: Bool
    public var video: Bool
    public var screen: Bool

    public init(audio: Bool = true, video: Bool = true, screen: Bool = false) {
        self.audio = audio
        self.video = video
        self.screen = screen
    }
}

/// One connection in a meeting. Attendees are connections, not users: a user may attend from one device while
/// another keeps ringing.
public struct Attendee: Codable, Hashable, Sendable {
    /// The connection id, `{nodeId}.{n}`: signals address it.
    public var conn: String
    public var user: String
    public var media: MediaState
    public var joinedAt: Timestamp
    /// True for the recorder, which receives every attendee's media and sends none: clients show it as the
    /// recording, not as a person. Absent for everyone else.
    public var recorder: Bool?

    public init(conn: String, user: String, media: MediaState, joinedAt: Timestamp) {
        self.conn = conn
        self.user = user
        self.media = media
        self.joinedAt = joinedAt
        self.recorder = user == User.recorderId ? true : nil
    }

    public var isRecorder: Bool { user == User.recorderId }

    /// The node that holds the connection: the part of its id before the last dot.
    public var node: String { Self.node(of: conn) }

    public static func node(of conn: String) -> String {
        guard let dot = conn.lastIndex(of: ".") else { return conn }
        return String(conn[..<dot])
    }
}

/// A call in a room.
public struct Meeting: Codable, Hashable, Sendable {
    public var id: String
    public var room: String
    /// The member who started it.
    public var host: String
    public var state: MeetingState
    public var startedAt: Timestamp
    /// When a ringing meeting becomes missed.
    public var ringsUntil: Timestamp
    public var endedAt: Timestamp?
    public var endReason: MeetingEndReason?
    /// The connections in it now; empty once it ended.
    public var attendees: [Attendee]
    /// The recording running, if one is.
    public var recording: MeetingRecording?

    public init(
        id: String, room: String, host: String, state: MeetingState, startedAt: Timestamp, ringsUntil: Timestamp,
        endedAt: Timestamp? = nil, endReason: MeetingEndReason? = nil, attendees: [Attendee] = []
    ) {
        self.id = id
        self.room = room
        self.host = host
        self.state = state
        self.startedAt = startedAt
        self.ringsUntil = ringsUntil
        self.endedAt = endedAt
        self.endReason = endReason
        self.attendees = attendees
    }
}

/// A meeting's recording as its meeting object shows it: who started it, and when.
public struct MeetingRecording: Codable, Hashable, Sendable {
    public var by: String
    public var startedAt: Timestamp

    public init(by: String, startedAt: Timestamp) {
        self.by = by
        self.startedAt = startedAt
    }
}

/// What a change to a meeting did, for the caller to announce after its commit.
public struct MeetingChange: Sendable, Hashable {
    /// The meeting after the change, with its attendees.
    public var meeting: Meeting
    /// The room's members, whose connections hear of state changes.
    public var members: [String]
    /// The state changed: `meeting.active` or `meeting.ended` is due.
    public var stateChanged: Bool
    /// Attendees that this change removed, for `attendee.left`.
    public var left: [Attendee]
    /// The recording this change stopped (the meeting ended), for `recording.stopped`.
    public var stoppedRecording: RecordingJob?
    /// The call's entry in its room's timeline that this change wrote (it started or ended), committed to the outbox
    /// as `message.created`.
    public var timeline: OutboxEntry?

    public init(meeting: Meeting, members: [String], stateChanged: Bool, left: [Attendee] = [], stoppedRecording: RecordingJob? = nil) {
        self.meeting = meeting
        self.members = members
        self.stateChanged = stateChanged
        self.left = left
        self.stoppedRecording = stoppedRecording
    }
}

/// An event committed to the outbox with the change it tells of, waiting to be published on `channel`.
public struct OutboxEntry: Sendable, Hashable {
    public var id: Int64
    public var channel: String
    public var payload: String

    public init(id: Int64, channel: String, payload: String) {
        self.id = id
        self.channel = channel
        self.payload = payload
    }
}
