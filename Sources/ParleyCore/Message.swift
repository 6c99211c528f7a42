/// A chat message. Its `seq` orders it within its room: strictly increasing from 1, with no gaps.
public struct Message: Codable, Hashable, Sendable {
    public var room: String
    public var seq: Int64
    /// The sender's idempotency key: a retry with the same key returns this message instead of a copy.
    public var clientId: String
    public var sender: String
    /// Null once the message is deleted; the message keeps its `seq`.
    public var text: String?
    public var sentAt: Timestamp
    public var deletedAt: Timestamp?
    /// The files sent with it; nil when it has none (and once it is deleted).
    public var files: [FileRef]?

    public init(
        room: String, seq: Int64, clientId: String, sender: String, text: String?, sentAt: Timestamp,
        deletedAt: Timestamp? = nil, files: [FileRef]? = nil
    ) {
        self.room = room
        self.seq = seq
        self.clientId = clientId
        self.sender = sender
        self.text = text
        self.sentAt = sentAt
        self.deletedAt = deletedAt
        self.files = files
    }

    public var isDeleted: Bool { deletedAt != nil }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(room, forKey: .room)
        try container.encode(seq, forKey: .seq)
        try container.encode(clientId, forKey: .clientId)
        try container.encode(sender, forKey: .sender)
        try container.encode(text, forKey: .text)
        try container.encode(sentAt, forKey: .sentAt)
        try container.encodeIfPresent(deletedAt, forKey: .deletedAt)
        try container.encodeIfPresent(files, forKey: .files)
    }
}

/// Which slice of a room's history to read. Pages are always returned in ascending `seq`.
public struct Page: Hashable, Sendable {
    /// Only messages with a smaller `seq`; the newest `limit` of them.
    public var before: Int64?
    /// Only messages with a greater `seq`; the oldest `limit` of them.
    public var after: Int64?
    public var limit: Int

    public init(before: Int64? = nil, after: Int64? = nil, limit: Int = Limits.defaultPageSize) {
        self.before = before
        self.after = after
        self.limit = limit
    }
}
