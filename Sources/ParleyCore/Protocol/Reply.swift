/// The answer to a client frame that carried an `id`: `{"re": id, "ok": true, …}`, with the message a `send`
/// stored, the meeting of a meeting frame, or the attendee of `media`. A frame that failed is answered with an
/// `error` event that carries `re` instead.
public struct Reply: Hashable, Sendable {
    public var re: String
    public var message: Message?
    public var meeting: Meeting?
    public var attendee: Attendee?

    public init(re: String, message: Message? = nil, meeting: Meeting? = nil, attendee: Attendee? = nil) {
        self.re = re
        self.message = message
        self.meeting = meeting
        self.attendee = attendee
    }
}

extension Reply: Codable {
    private enum CodingKeys: String, CodingKey {
        case re, ok, message, meeting, attendee
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(re, forKey: .re)
        try container.encode(true, forKey: .ok)
        try container.encodeIfPresent(message, forKey: .message)
        try container.encodeIfPresent(meeting, forKey: .meeting)
        try container.encodeIfPresent(attendee, forKey: .attendee)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        re = try container.decode(String.self, forKey: .re)
        message = try container.decodeIfPresent(Message.self, forKey: .message)
        meeting = try container.decodeIfPresent(Meeting.self, forKey: .meeting)
        attendee = try container.decodeIfPresent(Attendee.self, forKey: .attendee)
    }
}

/// Any frame from the server, as a client reads it.
public enum ServerFrame: Hashable, Sendable, Decodable {
    case reply(Reply)
    case event(Event)

    private enum CodingKeys: String, CodingKey {
        case ok
    }

    public init(from decoder: any Decoder) throws {
        let ok = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Bool.self, forKey: .ok)
        self = ok == true ? .reply(try Reply(from: decoder)) : .event(try Event(from: decoder))
    }
}

extension JSONText {
    /// A reply with no meeting and no attendee, as `Reply.encode(to:)` writes it: the frequent replies (sends,
    /// signals, pings) skip Foundation's encoder.
    public mutating func reply(re: String, message: Message?) {
        raw("{\"re\":")
        string(re)
        raw(",\"ok\":true")
        if let message {
            raw(",\"message\":")
            self.message(message)
        }
        raw("}")
    }

    /// A relayed signal, as `Event.signal` encodes it (no `payload` when there is none).
    public mutating func signal(_ signal: RelayedSignal) {
        raw("{\"type\":\"signal\",\"meeting\":")
        string(signal.meeting)
        raw(",\"from\":")
        string(signal.from)
        raw(",\"fromUser\":")
        string(signal.fromUser)
        raw(",\"to\":")
        string(signal.to)
        raw(",\"kind\":")
        string(signal.kind.rawValue)
        if let payload = signal.payload {
            raw(",\"payload\":")
            value(payload)
        }
        raw("}")
    }
}
