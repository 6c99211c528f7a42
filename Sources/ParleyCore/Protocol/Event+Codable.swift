extension Event: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, room, by, user, member, seq, unread, online, truncated, meeting, reason, re, ok, error, to, peer, session, sessions
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .type)
        switch self {
        case .hello(let hello):
            try hello.encode(to: encoder)
        case .messageCreated(let message), .messageDeleted(let message), .messageEdited(let message):
            try message.encode(to: encoder)
        case .reactionAdded(let change), .reactionRemoved(let change):
            try change.encode(to: encoder)
        case .mention(let mention):
            try mention.encode(to: encoder)
        case .roomRead(let room, let seq, let unread):
            try container.encode(room, forKey: .room)
            try container.encode(seq, forKey: .seq)
            try container.encode(unread, forKey: .unread)
        case .replayDone(let room, let truncated):
            try container.encode(room, forKey: .room)
            try container.encode(truncated, forKey: .truncated)
        case .roomAdded(let room, let by):
            try container.encode(room, forKey: .room)
            try container.encodeIfPresent(by, forKey: .by)
        case .roomUpdated(let room):
            try container.encode(room, forKey: .room)
        case .roomRemoved(let room):
            try container.encode(room, forKey: .room)
        case .memberAdded(let room, let member):
            try container.encode(room, forKey: .room)
            try container.encode(member, forKey: .member)
        case .memberRemoved(let room, let user), .typing(let room, let user):
            try container.encode(room, forKey: .room)
            try container.encode(user, forKey: .user)
        case .presence(let room, let user, let online):
            try container.encode(room, forKey: .room)
            try container.encode(user, forKey: .user)
            try container.encode(online, forKey: .online)
        case .read(let room, let user, let seq):
            try container.encode(room, forKey: .room)
            try container.encode(user, forKey: .user)
            try container.encode(seq, forKey: .seq)
        case .meetingRinging(let meeting), .meetingActive(let meeting):
            try container.encode(meeting.room, forKey: .room)
            try container.encode(meeting, forKey: .meeting)
        case .meetingEnded(let meeting, let reason):
            try container.encode(meeting.room, forKey: .room)
            try container.encode(meeting, forKey: .meeting)
            try container.encodeIfPresent(reason, forKey: .reason)
        case .attendeeJoined(let change), .attendeeLeft(let change), .attendeeMedia(let change):
            try change.encode(to: encoder)
        case .recordingStarted(let notice), .recordingStopped(let notice), .recordingReady(let notice):
            try notice.encode(to: encoder)
        case .signal(let signal):
            try signal.encode(to: encoder)
        case .error(let frame):
            try container.encodeIfPresent(frame.re, forKey: .re)
            try container.encode(false, forKey: .ok)
            try container.encodeIfPresent(frame.to, forKey: .to)
            try container.encodeIfPresent(frame.peer, forKey: .peer)
            try container.encodeIfPresent(frame.meeting, forKey: .meeting)
            try container.encode(ErrorBody(frame.error), forKey: .error)
        case .sessionClosed(let session):
            try container.encodeIfPresent(session, forKey: .session)
        case .sessionsRevoked(let sessions):
            try container.encode(sessions, forKey: .sessions)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        guard let kind = Kind(rawValue: type) else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown event type \(type)")
        }
        func room() throws -> String { try container.decode(String.self, forKey: .room) }
        func user() throws -> String { try container.decode(String.self, forKey: .user) }
        func meeting() throws -> Meeting { try container.decode(Meeting.self, forKey: .meeting) }
        switch kind {
        case .hello: self = .hello(try Hello(from: decoder))
        case .messageCreated: self = .messageCreated(try Message(from: decoder))
        case .messageDeleted: self = .messageDeleted(try Message(from: decoder))
        case .messageEdited: self = .messageEdited(try Message(from: decoder))
        case .reactionAdded: self = .reactionAdded(try ReactionChange(from: decoder))
        case .reactionRemoved: self = .reactionRemoved(try ReactionChange(from: decoder))
        case .mention: self = .mention(try Mention(from: decoder))
        case .roomRead:
            self = .roomRead(
                room: try room(), seq: try container.decode(Int64.self, forKey: .seq), unread: try container.decode(Int64.self, forKey: .unread))
        case .replayDone: self = .replayDone(room: try room(), truncated: try container.decode(Bool.self, forKey: .truncated))
        case .roomAdded:
            self = .roomAdded(try container.decode(RoomSummary.self, forKey: .room), by: try container.decodeIfPresent(String.self, forKey: .by))
        case .roomUpdated: self = .roomUpdated(try container.decode(RoomSummary.self, forKey: .room))
        case .roomRemoved: self = .roomRemoved(room: try room())
        case .memberAdded: self = .memberAdded(room: try room(), member: try container.decode(Member.self, forKey: .member))
        case .memberRemoved: self = .memberRemoved(room: try room(), user: try user())
        case .presence: self = .presence(room: try room(), user: try user(), online: try container.decode(Bool.self, forKey: .online))
        case .typing: self = .typing(room: try room(), user: try user())
        case .read: self = .read(room: try room(), user: try user(), seq: try container.decode(Int64.self, forKey: .seq))
        case .meetingRinging: self = .meetingRinging(try meeting())
        case .meetingActive: self = .meetingActive(try meeting())
        case .meetingEnded:
            self = .meetingEnded(try meeting(), reason: try container.decodeIfPresent(MeetingEndReason.self, forKey: .reason))
        case .attendeeJoined: self = .attendeeJoined(try AttendeeChange(from: decoder))
        case .attendeeLeft: self = .attendeeLeft(try AttendeeChange(from: decoder))
        case .attendeeMedia: self = .attendeeMedia(try AttendeeChange(from: decoder))
        case .recordingStarted: self = .recordingStarted(try RecordingNotice(from: decoder))
        case .recordingStopped: self = .recordingStopped(try RecordingNotice(from: decoder))
        case .recordingReady: self = .recordingReady(try RecordingNotice(from: decoder))
        case .signal: self = .signal(try RelayedSignal(from: decoder))
        case .error:
            self = .error(
                ErrorFrame(
                    re: try container.decodeIfPresent(String.self, forKey: .re),
                    try container.decode(ErrorBody.self, forKey: .error).error,
                    to: try container.decodeIfPresent(String.self, forKey: .to),
                    peer: try container.decodeIfPresent(String.self, forKey: .peer),
                    meeting: try container.decodeIfPresent(String.self, forKey: .meeting)))
        case .sessionClosed: self = .sessionClosed(session: try container.decodeIfPresent(String.self, forKey: .session))
        case .sessionsRevoked: self = .sessionsRevoked(try container.decode([String].self, forKey: .sessions))
        }
    }
}

/// An error as frames and REST bodies carry it: `{code, message, field?}`.
struct ErrorBody: Codable {
    var code: ParleyError.Code
    var message: String
    var field: String?

    init(_ error: ParleyError) {
        code = error.code
        message = error.message
        field = error.field
    }

    var error: ParleyError { ParleyError(code, message, field: field) }
}
