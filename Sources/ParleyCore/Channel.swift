/// The names of the bus channels. See DESIGN.md, "The bus".
public enum Channel {
    /// Room events: messages, member changes, meetings, typing.
    public static func room(_ roomId: String) -> String { "parley:room:\(roomId)" }
    /// User events: contacts, rooms added or removed, rings, logout.
    public static func user(_ userId: String) -> String { "parley:user:\(userId)" }
    /// Events for one node's connections: signals and replies.
    public static func node(_ nodeId: String) -> String { "parley:node:\(nodeId)" }
    /// Revoked sessions, heard by every node.
    public static let sessions = "parley:sessions"
}
