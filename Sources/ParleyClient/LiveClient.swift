import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore
import Synchronization

/// What a live connection hands its user.
public enum LiveEvent: Sendable, Hashable {
    /// A new message, exactly once per (room, seq) and in seq order, whatever reconnects and gaps happened.
    case message(Message)
    case messageDeleted(Message)
    /// `hello`: connected to `node` as connection `conn`.
    case connected(conn: String, node: String)
    case replayDone(room: String, truncated: Bool)
    /// The socket closed, with the server's close code if it sent one.
    case disconnected(code: UInt16?)
    /// Any other server frame, raw.
    case frame(type: String, json: String)
}

/// Parley's realtime protocol over WebSocket, for the CLI, the benchmark and the tests.
///
/// It reconnects on its own, to the next of `urls` in turn (any WS node will do), subscribes to its rooms again
/// with `since` set to the last seq it holds, and fills any gap in a room's seqs over REST. So its `events` carry
/// every message of its rooms once and in order.
public final class LiveClient: Sendable {
    private struct State {
        var lastSeq: [String: Int64] = [:]
        var waiting: [String: AsyncThrowingStream<Data, any Error>.Continuation] = [:]
        var outbound: WebSocketOutboundWriter?
        var nextId = 0
        var connects = 0
        var stopped = false
    }

    public let rest: ParleyClient
    /// WebSocket URLs, `ws://host:port/ws`; reconnects go round them.
    public let urls: [String]
    public let events: AsyncStream<LiveEvent>
    private let emit: AsyncStream<LiveEvent>.Continuation
    private let state = Mutex(State())
    private let logger: Logger

    public init(rest: ParleyClient, urls: [String], logger: Logger = Logger(label: "parley.live")) {
        self.rest = rest
        self.urls = urls
        self.logger = logger
        (events, emit) = AsyncStream.makeStream(of: LiveEvent.self)
    }

    /// How many times the socket has connected.
    public var connects: Int { state.withLock { $0.connects } }

    /// Connects, and reconnects after every drop, until the task is cancelled or `stop()` is called.
    /// `reconnectDelay` spaces the tries.
    public func run(reconnectDelay: Duration = .milliseconds(200)) async {
        // Cancelling the task closes the socket too, with a handshake, rather than leave it open behind.
        await withTaskCancellationHandler {
            var attempt = 0
            while !Task.isCancelled, !state.withLock({ $0.stopped }) {
                let url = urls[attempt % urls.count]
                attempt += 1
                let code = await connectOnce(url: url)
                failWaiting(ParleyError(.internal, "the connection closed"))
                emit.yield(.disconnected(code: code))
                try? await Task.sleep(for: reconnectDelay)
            }
            emit.finish()
        } onCancel: {
            Task { await self.stop() }
        }
    }

    /// Closes the socket with a close handshake (1000) and ends `run`: the server sees the user leave at once.
    public func stop() async {
        let outbound = state.withLock { state in
            state.stopped = true
            return state.outbound
        }
        try? await outbound?.close(.normalClosure, reason: "client stopped")
    }

    /// Starts holding a room: subscribed now if connected, and on every reconnect. `since` is the last seq held.
    public func follow(_ room: String, since: Int64 = 0) async throws {
        let connected = state.withLock { state -> Bool in
            if state.lastSeq[room] == nil { state.lastSeq[room] = since }
            return state.outbound != nil
        }
        if connected { _ = try await request(["type": "subscribe", "rooms": [["room": room, "since": since]]]) }
    }

    /// The last seq delivered for a room.
    public func lastSeq(_ room: String) -> Int64? { state.withLock { $0.lastSeq[room] } }

    /// Sends a message over the socket and returns it once the server has committed it. A send cut off by a
    /// disconnect is retried with the same `clientId` after reconnecting, so it is stored once.
    @discardableResult
    public func send(room: String, text: String, clientId: UUID = UUID(), within timeout: Duration = .seconds(30)) async throws -> Message {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                let reply = try await request(["type": "send", "room": room, "clientId": clientId.uuidString.lowercased(), "text": text])
                struct Reply: Decodable { let message: Message }
                return try JSONDecoder().decode(Reply.self, from: reply).message
            } catch let error as ParleyError where error.code == .internal && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: Meetings

    private struct MeetingReply: Decodable { let meeting: Meeting }

    /// Starts a meeting in a room over the socket, or returns the room's open one.
    public func startMeeting(room: String) async throws -> Meeting {
        try JSONDecoder().decode(MeetingReply.self, from: try await request(["type": "meeting.start", "room": room])).meeting
    }

    /// Joins with this connection and returns the meeting with its attendees, this connection among them.
    @discardableResult
    public func joinMeeting(_ meeting: String, media: MediaState = MediaState()) async throws -> Meeting {
        let frame: [String: Any] = ["type": "meeting.join", "meeting": meeting, "audio": media.audio, "video": media.video, "screen": media.screen]
        return try JSONDecoder().decode(MeetingReply.self, from: try await request(frame)).meeting
    }

    public func leaveMeeting(_ meeting: String) async throws {
        _ = try await request(["type": "meeting.leave", "meeting": meeting])
    }

    public func setMedia(_ meeting: String, _ media: MediaState) async throws {
        _ = try await request(["type": "media", "meeting": meeting, "audio": media.audio, "video": media.video, "screen": media.screen])
    }

    /// Relays a signal to another attendee's connection; throws `peer_gone` when its node is gone. A target that is
    /// not in the meeting is answered by its node with an `error` frame (`peer_gone`, with `peer` and `meeting`).
    public func signal(_ meeting: String, to conn: String, kind: SignalKind, payload: JSONValue) async throws {
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(payload), options: [.fragmentsAllowed])
        _ = try await request(["type": "signal", "meeting": meeting, "to": conn, "kind": kind.rawValue, "payload": json])
    }

    /// Sends a frame with an id and waits for its reply. An error reply throws it as a `ParleyError`.
    public func request(_ frame: [String: Any]) async throws -> Data {
        // The waiter is in place before the frame leaves, so that no reply can arrive unexpected.
        let (reply, waiter) = AsyncThrowingStream.makeStream(of: Data.self)
        let (id, outbound) = state.withLock { state -> (String, WebSocketOutboundWriter?) in
            state.nextId += 1
            state.waiting["c\(state.nextId)"] = waiter
            return ("c\(state.nextId)", state.outbound)
        }
        guard let outbound else {
            resume(id, .failure(ParleyError(.internal, "not connected")))
            throw ParleyError(.internal, "not connected")
        }
        var frame = frame
        frame["id"] = id
        do {
            try await outbound.write(.text(String(decoding: try JSONSerialization.data(withJSONObject: frame), as: UTF8.self)))
        } catch {
            resume(id, .failure(ParleyError(.internal, "the connection closed")))
        }
        for try await data in reply { return data }
        throw ParleyError(.internal, "the connection closed")
    }

    /// Sends a raw text frame, for tests of malformed input.
    public func sendRaw(_ text: String) async throws {
        guard let outbound = state.withLock({ $0.outbound }) else { throw ParleyError(.internal, "not connected") }
        try await outbound.write(.text(text))
    }

    private func connectOnce(url: String) async -> UInt16? {
        guard let token = rest.currentSession?.accessToken else { return nil }
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 16)
        configuration.additionalHeaders[.secWebSocketProtocol] = "parley.v1, bearer.\(token)"
        do {
            let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                inbound, outbound, _ in
                self.state.withLock { $0.outbound = outbound }
                defer { self.state.withLock { $0.outbound = nil } }
                try await self.resubscribe(outbound)
                for try await message in inbound.messages(maxSize: 1 << 24) {
                    guard case .text(let text) = message else { continue }
                    await self.receive(Data(text.utf8))
                }
            }
            return close.map { UInt16(UInt16(webSocketErrorCode: $0.closeCode)) }
        } catch {
            logger.debug("connection failed", metadata: ["url": "\(url)", "error": "\(error)"])
            return nil
        }
    }

    /// After (re)connecting: every followed room again, from the last seq held.
    private func resubscribe(_ outbound: WebSocketOutboundWriter) async throws {
        let rooms = state.withLock { state in
            state.connects += 1
            return state.lastSeq.map { ["room": $0.key, "since": $0.value] as [String: Any] }
        }
        guard !rooms.isEmpty else { return }
        let frame = try JSONSerialization.data(withJSONObject: ["type": "subscribe", "rooms": rooms])
        try await outbound.write(.text(String(decoding: frame, as: UTF8.self)))
    }

    private func receive(_ data: Data) async {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        if let id = object["re"] as? String {
            if object["ok"] as? Bool == true {
                resume(id, .success(data))
            } else {
                let error = object["error"] as? [String: Any]
                resume(
                    id,
                    .failure(ParleyError(ParleyError.Code(rawValue: error?["code"] as? String ?? "internal"), error?["message"] as? String ?? "")))
            }
            return
        }
        let type = object["type"] as? String ?? ""
        switch type {
        case "message.created":
            guard let message = try? JSONDecoder().decode(Message.self, from: data) else { return }
            await deliver(message)
        case "message.deleted":
            if let message = try? JSONDecoder().decode(Message.self, from: data) { emit.yield(.messageDeleted(message)) }
        case "hello":
            emit.yield(.connected(conn: object["conn"] as? String ?? "", node: object["node"] as? String ?? ""))
        case "replay.done":
            let room = object["room"] as? String ?? ""
            let truncated = object["truncated"] as? Bool ?? false
            emit.yield(.replayDone(room: room, truncated: truncated))
        default:
            emit.yield(.frame(type: type, json: String(decoding: data, as: UTF8.self)))
        }
    }

    /// Delivers a message once and in order: older or repeated seqs are dropped, and a jump is filled over REST.
    private func deliver(_ message: Message) async {
        guard let last = state.withLock({ $0.lastSeq[message.room] }) else { return }
        switch RoomCursor(lastSeq: last).action(for: message.seq) {
        case .drop:
            return
        case .deliver:
            break
        case .fill(var after, let before):
            while after < before - 1,
                let page = try? await rest.messages(room: message.room, before: before, after: after, limit: 200), !page.isEmpty
            {
                page.forEach(emitInOrder)
                after = page.last!.seq
            }
        }
        emitInOrder(message)
    }

    private func emitInOrder(_ message: Message) {
        let fresh = state.withLock { state in
            var cursor = RoomCursor(lastSeq: state.lastSeq[message.room] ?? 0)
            guard cursor.action(for: message.seq) != .drop else { return false }
            cursor.delivered(message.seq)
            state.lastSeq[message.room] = cursor.lastSeq
            return true
        }
        if fresh { emit.yield(.message(message)) }
    }

    private func resume(_ id: String, _ result: Result<Data, any Error>) {
        guard let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
        switch result {
        case .success(let data):
            waiter.yield(data)
            waiter.finish()
        case .failure(let error):
            waiter.finish(throwing: error)
        }
    }

    private func failWaiting(_ error: any Error) {
        let waiting = state.withLock { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        waiting.forEach { $0.finish(throwing: error) }
    }
}
