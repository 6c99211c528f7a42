/// What happened, as it travels over the bus and reaches clients as a server frame.
///
/// Fields sit flat beside `type`, as the wire protocol has them: `{"type":"message.created","room":"r1","seq":42,…}`.
public enum Event: Hashable, Sendable {
    case messageCreated(Message)
    case messageDeleted(Message)
    case roomAdded(RoomSummary)
    case roomRemoved(room: String)
    case memberAdded(room: String, member: Member)
    case memberRemoved(room: String, user: String)

    /// The value of `type` on the wire.
    public var type: String {
        switch self {
        case .messageCreated: "message.created"
        case .messageDeleted: "message.deleted"
        case .roomAdded: "room.added"
        case .roomRemoved: "room.removed"
        case .memberAdded: "member.added"
        case .memberRemoved: "member.removed"
        }
    }
}

extension Event: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, room, user, member
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .messageCreated(let message), .messageDeleted(let message):
            try message.encode(to: encoder)
        case .roomAdded(let room):
            try container.encode(room, forKey: .room)
        case .roomRemoved(let room):
            try container.encode(room, forKey: .room)
        case .memberAdded(let room, let member):
            try container.encode(room, forKey: .room)
            try container.encode(member, forKey: .member)
        case .memberRemoved(let room, let user):
            try container.encode(room, forKey: .room)
            try container.encode(user, forKey: .user)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "message.created": self = .messageCreated(try Message(from: decoder))
        case "message.deleted": self = .messageDeleted(try Message(from: decoder))
        case "room.added": self = .roomAdded(try container.decode(RoomSummary.self, forKey: .room))
        case "room.removed": self = .roomRemoved(room: try container.decode(String.self, forKey: .room))
        case "member.added":
            self = .memberAdded(
                room: try container.decode(String.self, forKey: .room),
                member: try container.decode(Member.self, forKey: .member))
        case "member.removed":
            self = .memberRemoved(
                room: try container.decode(String.self, forKey: .room),
                user: try container.decode(String.self, forKey: .user))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown event type \(type)")
        }
    }
}
