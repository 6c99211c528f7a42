/// Whether a room is the private room of two contacts or a named group.
public enum RoomKind: String, Codable, Sendable {
    case direct
    case group
}

/// A member's role in a group room. Direct rooms have two plain members.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case owner
    case admin
    case member

    private var rank: Int {
        switch self {
        case .owner: 2
        case .admin: 1
        case .member: 0
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// One member of a room.
public struct Member: Codable, Hashable, Sendable {
    public var user: User
    public var role: Role
    public var lastReadSeq: Int64

    public init(user: User, role: Role, lastReadSeq: Int64) {
        self.user = user
        self.role = role
        self.lastReadSeq = lastReadSeq
    }
}

/// A room as its members see it in their room list.
public struct RoomSummary: Codable, Hashable, Sendable {
    public var id: String
    public var kind: RoomKind
    /// The group's name; for a direct room, the other member's display name.
    public var name: String
    /// The other member of a direct room.
    public var peer: User?
    /// The caller's role.
    public var role: Role
    /// The `seq` of the room's newest message, 0 when it has none.
    public var lastSeq: Int64
    public var lastMessage: Message?
    /// Messages from others, not deleted, after the caller's read mark; of calls' entries, only the missed calls count.
    public var unread: Int64
    /// The caller's read mark: the `seq` of the last message they read here, shared by all their devices.
    public var lastRead: Int64
    /// Calls from others that nobody answered (missed, or given up by the caller), after the caller's read mark.
    public var missedCalls: Int64
    public var memberCount: Int
    /// The room's ringing or active meeting, with its attendees.
    public var meeting: Meeting?
    /// Whether its meetings may be recorded: a group's owner and admins decide; always true for a direct room.
    public var recordingAllowed: Bool
    public var createdAt: Timestamp

    public init(
        id: String, kind: RoomKind, name: String, peer: User?, role: Role, lastSeq: Int64,
        lastMessage: Message?, unread: Int64, lastRead: Int64 = 0, missedCalls: Int64 = 0, memberCount: Int = 0, meeting: Meeting? = nil,
        recordingAllowed: Bool = true, createdAt: Timestamp
    ) {
        self.lastRead = lastRead
        self.missedCalls = missedCalls
        self.memberCount = memberCount
        self.recordingAllowed = recordingAllowed
        self.id = id
        self.kind = kind
        self.name = name
        self.peer = peer
        self.role = role
        self.lastSeq = lastSeq
        self.lastMessage = lastMessage
        self.unread = unread
        self.meeting = meeting
        self.createdAt = createdAt
    }

    // `lastMessage`, `peer` and `meeting` are written as null rather than left out, so clients see every field.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(name, forKey: .name)
        try container.encode(peer, forKey: .peer)
        try container.encode(role, forKey: .role)
        try container.encode(lastSeq, forKey: .lastSeq)
        try container.encode(lastMessage, forKey: .lastMessage)
        try container.encode(unread, forKey: .unread)
        try container.encode(lastRead, forKey: .lastRead)
        try container.encode(missedCalls, forKey: .missedCalls)
        try container.encode(memberCount, forKey: .memberCount)
        try container.encode(meeting, forKey: .meeting)
        try container.encode(recordingAllowed, forKey: .recordingAllowed)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// One room with its members, as `GET /api/rooms/{room}` shows it.
public struct RoomDetail: Codable, Hashable, Sendable {
    public var room: RoomSummary
    public var members: [Member]

    public init(room: RoomSummary, members: [Member]) {
        self.room = room
        self.members = members
    }
}
