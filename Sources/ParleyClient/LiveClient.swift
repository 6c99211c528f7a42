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
    /// `hello`: connected to `node` as connection `conn`.
    case connected(conn: String, node: String)
    /// The socket closed, with the server's close code if it sent one.
    case disconnected(code: UInt16?)
    /// Any other server event, as the server sent it.
    case event(Event)
}

/// Parley's realtime protocol over WebSocket, for the CLI, the benchmark and the tests.
///
/// It reconnects on its own, to the next of `urls` in turn (any WS node will do), subscribes to its rooms again
/// with `since` set to the last seq it holds, and fills any gap in a room's seqs over REST. So its `events` carry
/// every message of its rooms once and in order.
public final class LiveClient: Sendable {
    struct State {
        var lastSeq: [String: Int64] = [:]
        var waiting: [String: AsyncThrowingStream<Reply, any Error>.Continuation] = [:]
        var outbound: WebSocketOutboundWriter?
        var nextId = 0
        var connects = 0
        var stopped = false
    }

    public let rest: ParleyClient
    /// WebSocket URLs, `ws://host:port/ws`; reconnects go round them.
    public let urls: [String]
    public let events: AsyncStream<LiveEvent>
    let emit: AsyncStream<LiveEvent>.Continuation
    let state = Mutex(State())
    /// Sends waiting for the socket to come back (`reconnected(since:before:)`), told of each connect and of `stop`.
    let connected = Waiters()
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
    /// `reconnectDelay` spaces the tries; it doubles with each try that fails to connect, up to `maxReconnectDelay`,
    /// so that a client does not hammer a server that is down.
    public func run(reconnectDelay: Duration = .milliseconds(200), maxReconnectDelay: Duration = .seconds(5)) async {
        // Cancelling the task closes the socket too, with a handshake, rather than leave it open behind.
        await withTaskCancellationHandler {
            var attempt = 0
            var delay = reconnectDelay
            while !Task.isCancelled, !state.withLock({ $0.stopped }) {
                let url = urls[attempt % urls.count]
                attempt += 1
                let before = connects
                let code = await connectOnce(url: url)
                failWaiting(ParleyError(.internal, "the connection closed"))
                emit.yield(.disconnected(code: code))
                delay = connects > before ? reconnectDelay : min(delay * 2, maxReconnectDelay)
                try? await Task.sleep(for: delay)
            }
            emit.finish()
        } onCancel: {
            // A cancellation handler cannot await the close handshake: this task writes the close frame and ends,
            // and `run` ends with the socket.
            Task { await self.stop() }
        }
    }

    /// Closes the socket with a close handshake (1000) and ends `run`: the server sees the user leave at once.
    public func stop() async {
        let outbound = state.withLock { state in
            state.stopped = true
            return state.outbound
        }
        connected.resumeAll()
        try? await outbound?.close(.normalClosure, reason: "client stopped")
    }

    /// Starts holding a room: subscribed now if connected, and on every reconnect. `since` is the last seq held.
    public func follow(_ room: String, since: Int64 = 0) async throws {
        let connected = state.withLock { state -> Bool in
            if state.lastSeq[room] == nil { state.lastSeq[room] = since }
            return state.outbound != nil
        }
        if connected { _ = try await request(.subscribe([.init(room: room, since: since)])) }
    }

    /// The last seq delivered for a room.
    public func lastSeq(_ room: String) -> Int64? { state.withLock { $0.lastSeq[room] } }

    /// Sends a message over the socket and returns it once the server has committed it. A send cut off by a
    /// disconnect is retried with the same `clientId` after reconnecting, so it is stored once.
    @discardableResult
    public func send(room: String, text: String, clientId: UUID = UUID(), within timeout: Duration = .seconds(30)) async throws -> Message {
        let deadline = ContinuousClock.now + timeout
        while true {
            let connects = self.connects
            do {
                let reply = try await request(.send(room: room, clientId: clientId.uuidString.lowercased(), text: text))
                guard let message = reply.message else { throw ParleyError(.internal, "the server's reply to send has no message") }
                return message
            } catch let error as ParleyError where error.code == .internal {
                // Cut off by a disconnect: sent again, with the same clientId, once the socket is back.
                guard await reconnected(since: connects, before: deadline) else { throw error }
            }
        }
    }

    /// Sends a frame with an id and waits for its reply. An error reply throws it as a `ParleyError`.
    @discardableResult
    public func request(_ body: ClientFrame.Body) async throws -> Reply {
        try await request { id in try JSONEncoder().encode(ClientFrame(id: id, body)) }
    }

    /// Sends a JSON object as a frame with an id, and waits for its reply: for tests of frames no client builds.
    @discardableResult
    public func request(json object: [String: JSONValue]) async throws -> Reply {
        try await request { id in try JSONEncoder().encode(JSONValue.object(object.merging(["id": .string(id)]) { $1 })) }
    }

    /// Sends a raw text frame, for tests of malformed input.
    public func sendRaw(_ text: String) async throws {
        guard let outbound = state.withLock({ $0.outbound }) else { throw ParleyError(.internal, "not connected") }
        try await outbound.write(.text(text))
    }

    private func request(_ encode: (String) throws -> Data) async throws -> Reply {
        // The waiter is in place before the frame leaves, so that no reply can arrive unexpected.
        let (reply, waiter) = AsyncThrowingStream.makeStream(of: Reply.self)
        let (id, outbound) = state.withLock { state -> (String, WebSocketOutboundWriter?) in
            state.nextId += 1
            state.waiting["c\(state.nextId)"] = waiter
            return ("c\(state.nextId)", state.outbound)
        }
        guard let outbound else {
            resume(id, .failure(ParleyError(.internal, "not connected")))
            throw ParleyError(.internal, "not connected")
        }
        do {
            try await outbound.write(.text(String(decoding: try encode(id), as: UTF8.self)))
        } catch {
            resume(id, .failure(ParleyError(.internal, "the connection closed")))
        }
        for try await data in reply { return data }
        throw ParleyError(.internal, "the connection closed")
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
            return state.lastSeq.map { ClientFrame.RoomCursor(room: $0.key, since: $0.value) }
        }
        connected.resumeAll()
        guard !rooms.isEmpty else { return }
        let frame = try JSONEncoder().encode(ClientFrame(.subscribe(rooms)))
        try await outbound.write(.text(String(decoding: frame, as: UTF8.self)))
    }

    private func receive(_ data: Data) async {
        guard let frame = try? JSONDecoder().decode(ServerFrame.self, from: data) else {
            // A frame of a newer server, or a broken one: a request it answers fails rather than wait for ever.
            struct Answer: Decodable { let re: String? }
            logger.debug("dropped a frame it cannot read", metadata: ["frame": "\(String(decoding: data.prefix(200), as: UTF8.self))"])
            if let re = (try? JSONDecoder().decode(Answer.self, from: data))?.re {
                resume(re, .failure(ParleyError(.internal, "the server's reply could not be read")))
            }
            return
        }
        switch frame {
        case .reply(let reply):
            resume(reply.re, .success(reply))
        case .event(.error(let failure)) where failure.re != nil:
            resume(failure.re!, .failure(failure.error))
        case .event(.messageCreated(let message)):
            await deliver(message)
        case .event(.hello(let hello)):
            emit.yield(.connected(conn: hello.conn, node: hello.node))
        case .event(let event):
            emit.yield(.event(event))
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

    private func resume(_ id: String, _ result: Result<Reply, any Error>) {
        guard let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
        switch result {
        case .success(let reply):
            waiter.yield(reply)
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
