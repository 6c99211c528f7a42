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
    /// The `seq` of the message this one answers, in the same room.
    public var replyTo: Int64?
    /// The message it answers, as it reads now: set wherever `replyTo` is.
    public var quoted: Quote?
    /// When its sender last changed its text.
    public var editedAt: Timestamp?
    /// Its reactions, one entry per emoji, in the order each was first given; nil when it has none.
    public var reactions: [Reaction]?
    /// Set on a call's entry in the timeline, which has no text: the call started, or how it ended.
    public var call: CallEntry?

    public init(
        room: String, seq: Int64, clientId: String, sender: String, text: String?, sentAt: Timestamp,
        deletedAt: Timestamp? = nil, files: [FileRef]? = nil, replyTo: Int64? = nil, editedAt: Timestamp? = nil,
        call: CallEntry? = nil
    ) {
        self.room = room
        self.seq = seq
        self.clientId = clientId
        self.sender = sender
        self.text = text
        self.sentAt = sentAt
        self.deletedAt = deletedAt
        self.files = files
        self.replyTo = replyTo
        self.editedAt = editedAt
        self.call = call
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
        try container.encodeIfPresent(replyTo, forKey: .replyTo)
        try container.encodeIfPresent(quoted, forKey: .quoted)
        try container.encodeIfPresent(editedAt, forKey: .editedAt)
        try container.encodeIfPresent(reactions, forKey: .reactions)
        try container.encodeIfPresent(call, forKey: .call)
    }
}

/// What a reply shows of the message it answers: who sent it and the start of its text, or that it is gone.
public struct Quote: Codable, Hashable, Sendable {
    public var sender: String
    /// The first `Quote.snippetLength` characters of its text; nil once it is deleted, or for a message of files only.
    public var snippet: String?
    /// True once the answered message is deleted.
    public var deleted: Bool?

    public static let snippetLength = 140

    public init(sender: String, text: String?, deleted: Bool) {
        self.sender = sender
        self.snippet = deleted ? nil : text.flatMap { $0.isEmpty ? nil : String($0.prefix(Self.snippetLength)) }
        self.deleted = deleted ? true : nil
    }
}

/// The reactions with one emoji: how many members gave it, and who (`users`, in the order they reacted).
public struct Reaction: Codable, Hashable, Sendable {
    public var emoji: String
    public var count: Int
    public var users: [String]

    public init(emoji: String, users: [String]) {
        self.emoji = emoji
        self.count = users.count
        self.users = users
    }
}

/// `reaction.added` and `reaction.removed`: one member's emoji on one message.
public struct ReactionChange: Codable, Hashable, Sendable {
    public var room: String
    public var seq: Int64
    public var user: String
    public var emoji: String

    public init(room: String, seq: Int64, user: String, emoji: String) {
        self.room = room
        self.seq = seq
        self.user = user
        self.emoji = emoji
    }
}

/// A call's entry in its room's timeline. A meeting writes two: `started` when it begins ringing, and one of the
/// others when it ends. Clients word it for the reader: the caller's "No answer" is the callee's "Missed call".
public struct CallEntry: Codable, Hashable, Sendable {
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        case started
        /// Someone answered; `durationMs` runs from the answer to the end.
        case answered
        /// Nobody answered before the ring ran out.
        case missed
        /// Everyone called declined.
        case declined
        /// The caller hung up before anyone answered.
        case cancelled
    }

    public var meeting: String
    public var outcome: Outcome
    public var durationMs: Int64?

    public init(meeting: String, outcome: Outcome, durationMs: Int64? = nil) {
        self.meeting = meeting
        self.outcome = outcome
        self.durationMs = durationMs
    }
}

/// A mention of a user in a message: sent to the mentioned user's channel (`mention`), so that each of their
/// devices can notify, whichever rooms it subscribes to.
public struct Mention: Codable, Hashable, Sendable {
    public var room: String
    public var seq: Int64
    public var sender: String
    /// The start of the message's text, as a notification shows it.
    public var snippet: String

    public init(room: String, seq: Int64, sender: String, text: String) {
        self.room = room
        self.seq = seq
        self.sender = sender
        self.snippet = String(text.prefix(Quote.snippetLength))
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

extension Mention {
    /// The most users one message notifies.
    public static let maxPerMessage = 20

    /// The usernames that `@username` names in `text`, lowercased: an `@` at the start of a word, then a username's
    /// characters (a trailing '.', '-' or '_' is punctuation, not part of the name).
    public static func usernames(in text: String) -> Set<String> {
        var names: Set<String> = []
        var previous: Character = " "
        var index = text.startIndex
        while index < text.endIndex, names.count < maxPerMessage {
            let character = text[index]
            defer { previous = character }
            index = text.index(after: index)
            guard character == "@", !(previous.isLetter || previous.isNumber || previous == "@") else { continue }
            var name = ""
            while index < text.endIndex, let lower = text[index].lowercased().first, Validate.isUsernameCharacter(lower), name.count <= Limits.username.upperBound {
                name.append(lower)
                index = text.index(after: index)
            }
            while let last = name.last, ".-_".contains(last) { name.removeLast() }
            if Limits.username.contains(name.count) { names.insert(name) }
        }
        return names
    }
}
