import Foundation
import NIOCore
import Synchronization

/// What a load-generator connection speaks.
public enum Dialect: Sendable {
    /// Parley's protocol: `hello`, frames with `id`, replies with `re`.
    case parley
    /// Engine.IO 4 over a WebSocket with socket.io packets: `40` connects and greets with the socket's `sid`,
    /// `42ID[event, data]` asks, `43ID[...]` answers, and a ping (`2`) wants a pong (`3`).
    case socketIO

    var path: String { self == .parley ? "/ws" : "/socket.io/?EIO=4&transport=websocket" }
}

/// One connection of the load generator, authenticated in Parley's case. Frames that carry a benchmark stamp
/// (deliveries to a receiver, acknowledgements to a sender) are timed into `latencies` without decoding; control
/// replies wake whoever waits for them.
public final class BenchPeer: Sendable {
    private struct State {
        var conn: String?
        var waiting: [String: CheckedContinuation<String, any Error>] = [:]
        var nextId = 0
        var closed = false
    }

    public let latencies: Latencies
    let dialect: Dialect
    private let socket: Mutex<BenchSocket?> = Mutex(nil)
    private let state = Mutex(State())
    private let stamped = Atomic(0)
    private let failures = Atomic(0)

    /// How many stamped frames arrived, and how many error frames answered no request.
    public var received: Int { stamped.load(ordering: .relaxed) }
    public var errors: Int { failures.load(ordering: .relaxed) }
    public var conn: String? { state.withLock { $0.conn } }
    public var isClosed: Bool { state.withLock { $0.closed } }

    private init(latencies: Latencies, dialect: Dialect) {
        self.latencies = latencies
        self.dialect = dialect
    }

    /// Connects, with `token` in Parley's case, and waits for the greeting (`hello`, or socket.io's connect).
    /// `path` overrides the dialect's; without a token in Parley's dialect nothing greets, and nothing is awaited.
    public static func connect(
        host: String = "127.0.0.1", port: Int, token: String?, localAddress: String?, group: any EventLoopGroup,
        latencies: Latencies, dialect: Dialect = .parley, path: String? = nil
    ) async throws -> BenchPeer {
        let peer = BenchPeer(latencies: latencies, dialect: dialect)
        let socket = try await BenchSocket.connect(
            host: host, port: port, path: path ?? dialect.path, protocols: token.map { "parley.v1, bearer.\($0)" },
            localAddress: localAddress, group: group, onText: { peer.receive($0, answer: $1) }, onClose: { peer.closed() })
        peer.socket.withLock { $0 = socket }
        if token != nil || dialect == .socketIO { try await peer.waitForHello() }
        return peer
    }

    /// Sends a frame with no reply awaited; `flush` false leaves it for the next `flush()`.
    public func send(_ text: String, flush: Bool = true) {
        socket.withLock { $0 }?.send(text, flush: flush)
    }

    public func flush() { socket.withLock { $0 }?.flush() }

    /// Writes `frames` on the connection's event loop in one go, with one flush.
    public func send(batch frames: [String]) {
        guard let socket = socket.withLock({ $0 }) else { return }
        socket.channel.eventLoop.execute {
            for frame in frames { socket.send(frame, flush: false) }
            socket.flush()
        }
    }

    public var eventLoop: (any EventLoop)? { socket.withLock { $0 }?.channel.eventLoop }

    /// Sends `frame` and waits up to 30 s for the reply. In Parley's dialect `frame` is a JSON object without its
    /// `id`, which this adds; in socket.io's it is the event array, `["join","room"]`.
    @discardableResult
    public func request(_ frame: String) async throws -> String {
        let (id, text) = state.withLock { state -> (String, String) in
            state.nextId += 1
            switch dialect {
            case .parley: return ("q\(state.nextId)", "{\"id\":\"q\(state.nextId)\"," + frame.dropFirst())
            case .socketIO: return ("\(state.nextId)", "42\(state.nextId)" + frame)
            }
        }
        let reply = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            state.withLock { $0.waiting[id] = continuation }
            send(text)
            Task {
                try? await Task.sleep(for: .seconds(30))
                self.resume(id, .failure(BenchError("no reply to \(frame.prefix(80)) within 30 s")))
            }
        }
        if reply.contains("\"ok\":false") { throw BenchError("the server refused \(frame.prefix(80)): \(reply)") }
        return reply
    }

    /// Starts receiving a room: Parley's `subscribe`, or the socket.io peer's `join`.
    public func subscribe(_ room: String) async throws {
        switch dialect {
        case .parley: try await request("{\"type\":\"subscribe\",\"rooms\":[{\"room\":\"\(room)\",\"since\":0}]}")
        case .socketIO: try await request("[\"join\",\"\(room)\"]")
        }
    }

    public func close() async { await socket.withLock { $0 }?.close() }

    private func waitForHello() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while conn == nil {
            guard !isClosed else { throw BenchError("the server closed the connection before its hello") }
            guard ContinuousClock.now < deadline else { throw BenchError("no hello from the server within 30 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private func receive(_ buffer: ByteBuffer, answer: BenchSocket.Answer) {
        if let stamp = Stamp.find(in: buffer) {
            latencies.record(since: stamp)
            stamped.add(1, ordering: .relaxed)
            return
        }
        let text = String(buffer: buffer)
        if dialect == .socketIO {
            receiveSocketIO(text, answer: answer)
        } else if text.contains("\"type\":\"hello\""), let conn = field("conn", in: text) {
            state.withLock { $0.conn = conn }
        } else if let id = field("re", in: text) {
            if !resume(id, .success(text)) { failures.add(1, ordering: .relaxed) }
        } else if text.contains("\"type\":\"error\"") {
            failures.add(1, ordering: .relaxed)
        }
    }

    private func receiveSocketIO(_ text: String, answer: BenchSocket.Answer) {
        if text == "2" {
            answer.send("3")
        } else if text.hasPrefix("0{") {
            answer.send("40")
        } else if text.hasPrefix("40"), let sid = field("sid", in: text) {
            state.withLock { $0.conn = sid }
        } else if text.hasPrefix("43") {
            // Acknowledgements of sends nobody waits for are expected; only a waiter's reply matters.
            resume(String(text.dropFirst(2).prefix { $0.isNumber }), .success(text))
        } else if text.hasPrefix("44") {
            failures.add(1, ordering: .relaxed)
        }
    }

    @discardableResult
    private func resume(_ id: String, _ result: Result<String, any Error>) -> Bool {
        guard let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return false }
        waiter.resume(with: result)
        return true
    }

    private func closed() {
        let waiting = state.withLock { state in
            state.closed = true
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        waiting.forEach { $0.resume(throwing: BenchError("the connection closed")) }
    }
}

/// A string field of a flat JSON object, found without decoding it: `"name":"value"`.
func field(_ name: String, in text: String) -> String? {
    guard let start = text.range(of: "\"\(name)\":\"") else { return nil }
    guard let end = text[start.upperBound...].firstIndex(of: "\"") else { return nil }
    return String(text[start.upperBound..<end])
}

/// Connections spread over 127.0.0.1…127.0.0.250 as their source addresses, a few hundred at a time.
public func connectPeers(
    _ count: Int, port: Int, tokens: (Int) -> String?, group: any EventLoopGroup, latencies: Latencies, label: String,
    dialect: Dialect = .parley, path: String? = nil, firstAddress: Int = 0
) async throws -> [BenchPeer] {
    let progress = Progress("connecting \(count) \(label)", total: count)
    defer { progress.finish() }
    return try await withThrowingTaskGroup(of: (Int, BenchPeer).self) { group_ in
        var peers: [Int: BenchPeer] = [:]
        for index in 0..<count {
            if index >= 200, let (done, peer) = try await group_.next() {
                peers[done] = peer
                progress.advance()
            }
            let token = tokens(index)
            group_.addTask {
                let peer = try await BenchPeer.connect(
                    port: port, token: token, localAddress: "127.0.0.\(1 + (firstAddress + index) % 250)", group: group,
                    latencies: latencies, dialect: dialect, path: path)
                return (index, peer)
            }
        }
        for try await (index, peer) in group_ {
            peers[index] = peer
            progress.advance()
        }
        return (0..<count).map { peers[$0]! }
    }
}
