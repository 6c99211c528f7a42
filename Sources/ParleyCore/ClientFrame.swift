/// A frame from a client, as `docs/protocol.md` describes it. Every type shares one flat shape, and each handler
/// reads the fields its type needs; a missing one is a `bad_request` error frame.
public struct ClientFrame: Decodable, Equatable, Sendable {
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

        /// `{room, since?}`; nil for any other shape.
        init?(json: JSONValue) {
            let since = json["since"]
            guard let room = json["room"].string, since.isNull || since.integer != nil else { return nil }
            self.init(room: room, since: since.integer)
        }
    }

    public func require<T>(_ value: T?, _ field: String) throws -> T {
        guard let value else { throw ParleyError(.badRequest, "\(type) needs '\(field)'") }
        return value
    }
}

extension ClientFrame {
    /// A field of another type than the frame's shape gives it.
    public struct WrongType: Error {
        public let field: String
    }

    /// A field the frame may not carry as it is: `error` says which, and `id` is the frame's, for the reply.
    public struct Refused: Error {
        public let id: String?
        public let error: ParleyError
    }

    /// A frame from its JSON text, read by `JSONReader`: what Foundation's decoder reads as a `ClientFrame`, at a
    /// fraction of its cost. A field that is null is missing; one of another type, text that is no JSON or no
    /// object, or an object without a string `type`, throws. A string field that holds a control character (but a
    /// tab or newline in `text`) throws `invalid_field`; `payload` passes as it is, since SDP lines end in CRLF.
    public init(json text: UnsafeRawBufferPointer) throws {
        try self.init(json: try JSONReader.parse(text))
    }

    public init(json value: JSONValue) throws {
        guard let object = value.object else { throw WrongType(field: "") }
        func field<T>(_ key: String, _ read: (JSONValue) -> T?) throws(WrongType) -> T? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let read = read(value) else { throw WrongType(field: key) }
            return read
        }
        // The id first, so that a refusal of any other field can name the frame it answers.
        let id = try field("id", \.string)
        func clean(_ value: String, _ key: String) throws(Refused) {
            guard Validate.holdsControls(value, newlines: key == "text") else { return }
            throw Refused(id: id, error: ParleyError.invalid(key, "may not hold control characters"))
        }
        func string(_ key: String) throws -> String? {
            guard let value = try field(key, \.string) else { return nil }
            try clean(value, key)
            return value
        }
        guard let type = try string("type") else { throw WrongType(field: "type") }
        self.type = type
        try id.map { try clean($0, "id") }
        self.id = id
        rooms = try field("rooms") { rooms in
            rooms.array.flatMap { cursors in
                let read = cursors.compactMap(RoomCursor.init(json:))
                return read.count == cursors.count ? read : nil
            }
        }
        for cursor in rooms ?? [] { try clean(cursor.room, "rooms") }
        room = try string("room")
        clientId = try string("clientId")
        text = try string("text")
        seq = try field("seq", \.integer)
        token = try string("token")
        meeting = try string("meeting")
        to = try string("to")
        kind = try field("kind") { $0.string.flatMap(SignalKind.init(rawValue:)) }
        payload = try field("payload") { $0 }
        audio = try field("audio", \.bool)
        video = try field("video", \.bool)
        screen = try field("screen", \.bool)
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
