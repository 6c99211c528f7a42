import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ParleyCore
import Synchronization

/// A client of Parley's REST API. It keeps the session it signs in with and sends its access token.
///
/// ```swift
/// let alice = ParleyClient(baseURL: "http://127.0.0.1:8080")
/// try await alice.register(username: "alice", password: "correct horse", name: "Alice")
/// let contact = try await alice.addContact(username: "bob")
/// try await alice.send(room: contact.room, text: "hi")
/// ```
public final class ParleyClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    private let session = Mutex<Session?>(nil)

    public init(baseURL: String, http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
    }

    /// The signed-in session, if any.
    public var currentSession: Session? { session.withLock { $0 } }

    /// Signs in with a session kept from before, such as one a CLI stored on disk.
    public func restore(_ session: Session) {
        self.session.withLock { $0 = session }
    }

    /// Uses another access token from now on, such as one renewed elsewhere.
    public func use(accessToken: String) {
        session.withLock { $0?.accessToken = accessToken }
    }

    // MARK: Auth

    @discardableResult
    public func register(username: String, password: String, name: String) async throws -> Session {
        try await signIn(try await request(.POST, "/api/auth/register", ["username": username, "password": password, "name": name]))
    }

    @discardableResult
    public func login(username: String, password: String) async throws -> Session {
        try await signIn(try await request(.POST, "/api/auth/login", ["username": username, "password": password]))
    }

    /// Trades the refresh token for a new pair; the old refresh token is then spent.
    @discardableResult
    public func refresh() async throws -> Session {
        guard let token = currentSession?.refreshToken else { throw ParleyError(.unauthorized, "not signed in") }
        return try await signIn(try await request(.POST, "/api/auth/refresh", ["refreshToken": token]))
    }

    /// Ends the signed-in session, or with `everywhere` every session of the user's, and closes their sockets.
    public func logout(everywhere: Bool = false) async throws {
        guard let token = currentSession?.refreshToken else { return }
        struct Body: Encodable {
            let refreshToken: String
            let everywhere: Bool
        }
        _ = try await request(.POST, "/api/auth/logout", Body(refreshToken: token, everywhere: everywhere)) as Empty
        session.withLock { $0 = nil }
    }

    private func signIn(_ new: Session) -> Session {
        session.withLock { $0 = new }
        return new
    }

    // MARK: Users, contacts, rooms

    public func me() async throws -> User { try await request(.GET, "/api/me") }

    public func searchUsers(_ query: String) async throws -> [User] {
        try await request(.GET, "/api/users?q=\(Self.queryValue(query))")
    }

    /// A value for a URL's query: only the unreserved characters stay as they are, as `&`, `=` and `+` in it are the
    /// query's own.
    static func queryValue(_ value: String) -> String {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    @discardableResult
    public func addContact(username: String) async throws -> Contact {
        try await request(.POST, "/api/contacts", ["username": username])
    }

    public func contacts() async throws -> [Contact] { try await request(.GET, "/api/contacts") }

    public func rooms() async throws -> [RoomSummary] { try await request(.GET, "/api/rooms") }

    public func room(_ id: String) async throws -> RoomDetail { try await request(.GET, "/api/rooms/\(id)") }

    public func createGroup(name: String, members: [String]) async throws -> RoomDetail {
        struct Body: Encodable {
            let name: String
            let members: [String]
        }
        return try await request(.POST, "/api/rooms", Body(name: name, members: members))
    }

    // MARK: Messages

    /// Sends a message: text, files announced and uploaded to the room (`announceFile`, `upload`), or both. Retrying
    /// with the same `clientId` returns the original rather than a copy.
    /// `replyTo` is the seq of the message it answers.
    @discardableResult
    public func send(room: String, text: String?, files: [String] = [], replyTo: Int64? = nil, clientId: UUID = UUID()) async throws -> Message {
        struct Body: Encodable {
            let clientId: String
            let text: String?
            let files: [String]?
            let replyTo: Int64?
        }
        // A message of files alone leaves its text out.
        let text = files.isEmpty ? text ?? "" : text.flatMap { $0.isEmpty ? nil : $0 }
        let body = Body(clientId: clientId.uuidString.lowercased(), text: text, files: files.isEmpty ? nil : files, replyTo: replyTo)
        return try await request(.POST, "/api/rooms/\(room)/messages", body)
    }

    /// Changes the text of one of your messages.
    @discardableResult
    public func editMessage(room: String, seq: Int64, text: String) async throws -> Message {
        try await request(.PATCH, "/api/rooms/\(room)/messages/\(seq)", ["text": text])
    }

    /// Adds your emoji to a message, or takes it back.
    public func react(room: String, seq: Int64, emoji: String, on: Bool = true) async throws {
        if on {
            _ = try await request(.POST, "/api/rooms/\(room)/messages/\(seq)/reactions", ["emoji": emoji]) as Empty
        } else {
            _ = try await request(.DELETE, "/api/rooms/\(room)/messages/\(seq)/reactions/\(Self.queryValue(emoji))") as Empty
        }
    }

    /// A page of the messages of your rooms (or of `room`) that hold every word of `query`, best match first.
    public func search(_ query: String, room: String? = nil, limit: Int? = nil, offset: Int? = nil) async throws -> SearchPage {
        let parameters = [("q", query), ("room", room), ("limit", limit.map(String.init)), ("offset", offset.map(String.init))]
            .compactMap { name, value in value.map { "\(name)=\(Self.queryValue($0))" } }
        return try await request(.GET, "/api/search?" + parameters.joined(separator: "&"))
    }

    public func messages(room: String, before: Int64? = nil, after: Int64? = nil, limit: Int? = nil) async throws -> [Message] {
        let query = [("before", before.map(String.init)), ("after", after.map(String.init)), ("limit", limit.map(String.init))]
            .compactMap { name, value in value.map { "\(name)=\($0)" } }
            .joined(separator: "&")
        return try await request(.GET, "/api/rooms/\(room)/messages" + (query.isEmpty ? "" : "?\(query)"))
    }

    @discardableResult
    public func deleteMessage(room: String, seq: Int64) async throws -> Message {
        try await request(.DELETE, "/api/rooms/\(room)/messages/\(seq)")
    }

    @discardableResult
    public func addMember(room: String, user: String, role: Role = .member) async throws -> Member {
        try await request(.POST, "/api/rooms/\(room)/members", ["userId": user, "role": role.rawValue])
    }

    @discardableResult
    public func changeRole(room: String, user: String, role: Role) async throws -> RoomDetail {
        try await request(.PATCH, "/api/rooms/\(room)/members/\(user)", ["role": role.rawValue])
    }

    /// Removes a member; removing yourself leaves the room.
    public func removeMember(room: String, user: String) async throws {
        _ = try await request(.DELETE, "/api/rooms/\(room)/members/\(user)") as Empty
    }

    public func markRead(room: String, seq: Int64) async throws {
        _ = try await request(.POST, "/api/rooms/\(room)/read", ["seq": seq]) as Empty
    }

    // MARK: Meetings

    /// Starts a meeting in a room, or returns the one already ringing or active there.
    public func startMeeting(room: String) async throws -> Meeting {
        try await request(.POST, "/api/rooms/\(room)/meetings", [String: String]())
    }

    /// The ringing and active meetings of my rooms.
    public func meetings() async throws -> [Meeting] { try await request(.GET, "/api/meetings") }

    public func meeting(_ id: String) async throws -> Meeting { try await request(.GET, "/api/meetings/\(id)") }

    @discardableResult
    public func acceptMeeting(_ id: String) async throws -> Meeting {
        try await request(.POST, "/api/meetings/\(id)/accept", [String: String]())
    }

    @discardableResult
    public func declineMeeting(_ id: String) async throws -> Meeting {
        try await request(.POST, "/api/meetings/\(id)/decline", [String: String]())
    }

    @discardableResult
    public func endMeeting(_ id: String) async throws -> Meeting {
        try await request(.POST, "/api/meetings/\(id)/end", [String: String]())
    }

    /// ICE servers to call with: `{iceServers: [{urls, username?, credential?}], ttl}`.
    public func iceServers() async throws -> JSONValue { try await request(.GET, "/api/turn") }

    // MARK: Transport

    struct Empty: Decodable {}

    struct ErrorEnvelope: Decodable {
        let error: ParleyError.Wire
    }

    func request<Response: Decodable>(_ method: HTTPMethod, _ path: String) async throws -> Response {
        try await request(method, path, Optional<[String: String]>.none)
    }

    func request<Body: Encodable, Response: Decodable>(
        _ method: HTTPMethod, _ path: String, _ body: Body?
    ) async throws -> Response {
        let (_, bytes) = try await exchange(method, path, body)
        if Response.self == Empty.self { return Empty() as! Response }
        return try JSONDecoder().decode(Response.self, from: bytes)
    }

    /// Sends a request with the access token and a JSON body, and returns a success's status and body; an error
    /// answer throws.
    func exchange<Body: Encodable>(
        _ method: HTTPMethod, _ path: String, _ body: Body?, timeout: TimeAmount = .seconds(30)
    ) async throws -> (HTTPResponseStatus, Data) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token = currentSession?.accessToken {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ParleyClientUnreachable(server: baseURL, reason: error)
        }
        let bytes = Data(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
        guard (200..<300).contains(response.status.code) else { throw ParleyClientError(status: response.status, body: bytes) }
        return (response.status, bytes)
    }
}

/// No answer from the server: it cannot be reached, or the connection broke before the answer came.
public struct ParleyClientUnreachable: Error, Sendable, CustomStringConvertible {
    public var server: String
    public var reason: any Error
    public var description: String { "cannot reach \(server) (\(reason))" }
}

extension HTTPClient {
    /// A client whose requests fail at once when the server cannot be reached, instead of connecting again until
    /// their deadline: a terminal command says so at once, and retries, saying so, where it waits for the server.
    public static let failingFast: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(5)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .shared(HTTPClient.defaultEventLoopGroup), configuration: configuration)
    }()
}

/// An error answer from the server: its HTTP status and the `{"error": {"code", "message"}}` it carried.
public struct ParleyClientError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: ParleyError.Code
    public var message: String
    public var description: String { "HTTP \(status) \(code): \(message)" }

    init(status: Int, code: ParleyError.Code, message: String) {
        (self.status, self.code, self.message) = (status, code, message)
    }

    /// The error an answer carries: Parley's `{"error": ...}`, or for another server (a bucket) its status alone.
    init(status: HTTPResponseStatus, body: Data) {
        let wire = try? JSONDecoder().decode(ParleyClient.ErrorEnvelope.self, from: body).error
        self.status = Int(status.code)
        code = wire.map { ParleyError.Code(rawValue: $0.code) } ?? Self.code(for: status)
        message = wire?.message ?? "HTTP \(status.code) \(status.reasonPhrase)"
    }

    private static func code(for status: HTTPResponseStatus) -> ParleyError.Code {
        switch status {
        case .notFound: .notFound
        case .forbidden: .forbidden
        case .unauthorized: .unauthorized
        case .payloadTooLarge: .tooLarge
        default: .internal
        }
    }
}

extension ParleyError {
    /// The error as it appears on the wire.
    struct Wire: Decodable {
        let code: String
        let message: String
    }
}

/// A page of search results: the messages found, and the offset of the next page (nil after the last).
public struct SearchPage: Decodable, Sendable {
    public var messages: [Message]
    public var next: Int?
}
