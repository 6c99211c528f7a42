/// A frame from a client, as `docs/protocol.md` describes it. Every type shares one flat shape, and each handler
/// reads the fields its type needs; a missing one is a `bad_request` error frame.
public struct ClientFrame: Decodable, Sendable {
    /// Set when the client wants a reply: `{"re": id, "ok": …}`.
    public var id: String?
    public var type: String
    public var rooms: [RoomCursor]?
    public var room: String?
    public var clientId: String?
    public var text: String?
    public var seq: Int64?
    public var token: String?
    public var meeting: String?
    /// A signal's target connection.
    public var to: String?
    public var kind: SignalKind?
    public var payload: JSONValue?
    public var audio: Bool?
    public var video: Bool?
    public var screen: Bool?

    /// `subscribe` names each room with the last `seq` the client holds; `unsubscribe` names rooms only.
    public struct RoomCursor: Codable, Sendable, Hashable {
        public var room: String
        public var since: Int64?

        public init(room: String, since: Int64? = nil) {
            self.room = room
            self.since = since
        }
    }

    public func require<T>(_ value: T?, _ field: String) throws -> T {
        guard let value else { throw ParleyError(.badRequest, "\(type) needs '\(field)'") }
        return value
    }
}

/// The close codes of the WebSocket gateway, besides the standard ones.
public enum CloseCode {
    /// The access token expired and was not renewed with an `auth` frame.
    public static let tokenExpired: UInt16 = 4401
    /// The client read too slowly and its send queue overflowed; reconnect and resume with `since`.
    public static let slowConsumer: UInt16 = 4008
    /// The node is restarting or stopping (graceful drain): reconnect at once, to another node.
    public static let serviceRestart: UInt16 = 1012
    /// The user signed out.
    public static let signedOut: UInt16 = 4001
}
