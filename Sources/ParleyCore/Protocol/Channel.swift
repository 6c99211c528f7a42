/// The names of the bus channels. See docs/architecture.md, "The bus".
public enum Channel {
    /// What a channel carries, and for whom: a channel name read back.
    public enum Audience: Hashable, Sendable {
        case room(String)
        case user(String)
        case node(String)
        case sessions
    }

    private static let roomPrefix = "parley:room:"
    private static let userPrefix = "parley:user:"
    private static let nodePrefix = "parley:node:"

    /// Room events: messages, member changes, meetings, typing.
    public static func room(_ roomId: String) -> String { roomPrefix + roomId }
    /// User events: contacts, rooms added or removed, rings, logout.
    public static func user(_ userId: String) -> String { userPrefix + userId }
    /// Events for one node's connections: signals and replies.
    public static func node(_ nodeId: String) -> String { nodePrefix + nodeId }
    /// Revoked sessions, heard by every node.
    public static let sessions = "parley:sessions"

    /// Whom a channel name is for; nil for a name that is none of Parley's.
    public static func audience(of name: String) -> Audience? {
        if name.hasPrefix(roomPrefix) { return .room(String(name.dropFirst(roomPrefix.count))) }
        if name.hasPrefix(userPrefix) { return .user(String(name.dropFirst(userPrefix.count))) }
        if name.hasPrefix(nodePrefix) { return .node(String(name.dropFirst(nodePrefix.count))) }
        return name == sessions ? .sessions : nil
    }
}
