import Foundation
import NIOCore
import Synchronization

/// `parley-bench storm-client`: one child generator of the storm. It connects its clients to `port`, subscribes
/// each to its room, prints `ready`, and then follows the parent's lines: `killed NANOS` (when the node died),
/// `target ROOM SEQ` (a message each client of the room must hold), `targets done`. Once all are caught up, or after
/// 60 s, it prints `back` and the nanoseconds from the kill until each client was greeted again, and `result` and
/// those until each was caught up; then, once `Storm.presenceWindow` has passed since the kill, `presence` and the
/// number of presence events its clients received.
public enum StormClients {
    public static func run(port: Int, fallback: Int, tokens tokensPath: String, rooms roomsPath: String, from: Int, count: Int) async throws {
        let tokens = try readLines(tokensPath)
        let rooms = try readLines(roomsPath)
        let run = StormRun()
        let clients = (0..<count).map { index in
            StormClient(token: tokens[from + index], room: rooms[from + index], address: "127.0.0.\(1 + (from + index) % 250)", run: run)
        }
        let progress = Progress("connecting \(count) storm clients", total: count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                if index >= 200 { try await group.next() }
                group.addTask {
                    try await client.connect(port: port)
                    progress.advance()
                }
            }
            try await group.waitForAll()
        }
        progress.finish()
        _ = await wait(upTo: .seconds(60)) { clients.allSatisfy(\.isReplayed) }
        // Every user came online, and their rooms hear of it: the kill waits until that has settled, so that it
        // falls on a node in a steady state.
        _ = await wait(upTo: .seconds(60)) {
            let (now, last) = (monotonicNanos(), clients.compactMap(\.lastPresenceAt).max() ?? 0)
            return now - min(now, last) > UInt64(Storm.settled.seconds * 1e9)
        }
        for client in clients { client.fallback = fallback }
        tellParent("ready \(count)")

        reading: while let line = await nextInputLine() {
            let words = line.split(separator: " ").map(String.init)
            switch (words.first, words.count) {
            case ("killed", 2): run.killed(at: UInt64(words[1]) ?? monotonicNanos())
            case ("target", 3): run.target(room: words[1], seq: Int64(words[2]) ?? 0)
            case ("targets", _): break reading
            default: continue
            }
        }
        clients.forEach { $0.check() }
        _ = await wait(upTo: .seconds(60)) { clients.allSatisfy { $0.caughtUp != nil } }
        let behind = clients.filter { $0.caughtUp == nil }
        if !behind.isEmpty {
            let away = behind.filter { !$0.isBack }.count
            say("  \(behind.count) clients not caught up after 60 s: \(away) not back, \(behind.count - away) back but behind")
            for client in behind.prefix(5) { say("    " + client.summary) }
        }
        let killedAt = run.killedAt ?? 0
        // Where the slowest clients' time went.
        for client in clients.filter({ $0.caughtUp != nil }).sorted(by: { $0.caughtUp! > $1.caughtUp! }).prefix(2) {
            say("    slowest: " + client.timeline(killedAt: killedAt))
        }
        tellParent("back " + clients.compactMap { $0.backAt.map { String($0 - min($0, killedAt)) } }.joined(separator: " "))
        tellParent("result " + clients.compactMap { $0.caughtUp.map(String.init) }.joined(separator: " "))
        let sinceKill = Duration.nanoseconds(Int64(monotonicNanos() - min(monotonicNanos(), killedAt)))
        if killedAt > 0, sinceKill < Storm.presenceWindow { try? await Task.sleep(for: Storm.presenceWindow - sinceKill) }
        tellParent("presence \(clients.map(\.presenceEvents).reduce(0, +))")
        await untilInputCloses()
    }
}

/// What every client of a storm child needs to know: when the node died, and what each room must be caught up to.
final class StormRun: Sendable {
    private struct State {
        var killedAt: UInt64?
        var targets: [String: Int64] = [:]
        var complete = false
    }

    private let state = Mutex(State())

    func killed(at nanos: UInt64) { state.withLock { $0.killedAt = nanos } }
    var killedAt: UInt64? { state.withLock { $0.killedAt } }
    func target(room: String, seq: Int64) { state.withLock { $0.targets[room] = seq } }

    /// When the node died, and the seq `room` must reach; nil until both are known.
    func goal(room: String) -> (killedAt: UInt64, seq: Int64)? {
        state.withLock { state in
            guard let killedAt = state.killedAt, let seq = state.targets[room] else { return nil }
            return (killedAt, seq)
        }
    }
}

/// One client of the storm: a user's connection that resubscribes from the last seq it holds when it reconnects.
final class StormClient: Sendable {
    private struct State {
        var socket: BenchSocket?
        /// The connection said hello and is not subscribed yet.
        var greeted = false
        var lastSeq: Int64 = 0
        var replayed = false
        /// When a hello came after the kill (monotonic nanoseconds): the client is back.
        var backAt: UInt64?
        var caughtUp: UInt64?
        /// When the resubscription after the kill left, and when the first frame after it came (monotonic
        /// nanoseconds): the server's answer.
        var subscribedAt: UInt64?
        var answeredAt: UInt64?
        var fallback: Int?
        var lastError: String?
        /// `presence` events received since the kill, and when the last one came (monotonic nanoseconds).
        var presenceEvents = 0
        var lastPresenceAt: UInt64?
    }

    let token: String
    let room: String
    let address: String
    private let run: StormRun
    private let state = Mutex(State())

    init(token: String, room: String, address: String, run: StormRun) {
        self.token = token
        self.room = room
        self.address = address
        self.run = run
    }

    var isReplayed: Bool { state.withLock { $0.replayed } }
    var presenceEvents: Int { state.withLock { $0.presenceEvents } }
    var lastPresenceAt: UInt64? { state.withLock { $0.lastPresenceAt } }
    var isBack: Bool { backAt != nil }
    var backAt: UInt64? { state.withLock { $0.backAt } }
    var summary: String {
        let goal = run.goal(room: room)
        return state.withLock { "room \(room) seq \($0.lastSeq) of \(goal?.seq ?? -1), error \($0.lastError ?? "none")" }
    }
    /// Nanoseconds from the kill until the client was caught up.
    var caughtUp: UInt64? { state.withLock { $0.caughtUp } }
    /// When the client was greeted, resubscribed, answered and caught up, in milliseconds after the kill.
    func timeline(killedAt: UInt64) -> String {
        state.withLock { state in
            let after = { (nanos: UInt64?) in nanos.map { String(format: "%.0f ms", Double($0 - min($0, killedAt)) / 1e6) } ?? "never" }
            return "greeted \(after(state.backAt)), resubscribed \(after(state.subscribedAt)), answered \(after(state.answeredAt)), "
                + "caught up \(after(state.caughtUp.map { $0 + killedAt }))"
        }
    }
    /// The port to reconnect to when the connection drops.
    var fallback: Int? {
        get { state.withLock { $0.fallback } }
        set { state.withLock { $0.fallback = newValue } }
    }

    func connect(port: Int) async throws {
        state.withLock { state in
            state.socket = nil
            state.greeted = false
        }
        let socket = try await BenchSocket.connect(
            host: "127.0.0.1", port: port, protocols: "parley.v1, bearer.\(token)", localAddress: address,
            group: Scenarios.group, onText: { text, _ in self.receive(text) }, onClose: { self.closed() })
        state.withLock { $0.socket = socket }
        subscribeOnceGreeted()
    }

    /// Subscribes from the last seq held once the connection is both set and greeted: the hello may come with the
    /// upgrade, before `connect` has the socket.
    private func subscribeOnceGreeted() {
        let ready = state.withLock { state -> (BenchSocket, Int64)? in
            guard state.greeted, let socket = state.socket else { return nil }
            state.greeted = false
            return (socket, state.lastSeq)
        }
        guard let (socket, since) = ready else { return }
        state.withLock { state in
            if state.fallback != nil { (state.subscribedAt, state.answeredAt) = (monotonicNanos(), nil) }
        }
        socket.send("{\"id\":\"s\",\"type\":\"subscribe\",\"rooms\":[{\"room\":\"\(room)\",\"since\":\(since)}]}")
    }

    /// Records a catch-up once the client is back and holds the room's target seq.
    func check() {
        guard let goal = run.goal(room: room) else { return }
        state.withLock { state in
            guard state.caughtUp == nil, state.backAt != nil, state.lastSeq >= goal.seq else { return }
            state.caughtUp = monotonicNanos() - goal.killedAt
        }
    }

    private func receive(_ buffer: ByteBuffer) {
        let text = String(buffer: buffer)
        let isHello = text.contains("\"type\":\"hello\"")
        state.withLock { state in
            if !isHello, state.subscribedAt != nil, state.answeredAt == nil { state.answeredAt = monotonicNanos() }
        }
        if isHello {
            state.withLock { state in
                if state.fallback != nil { state.backAt = monotonicNanos() }
                state.greeted = true
            }
            subscribeOnceGreeted()
        } else if text.contains("\"type\":\"message.created\""), let seq = integer("seq", in: text) {
            state.withLock { $0.lastSeq = max($0.lastSeq, seq) }
        } else if text.contains("\"type\":\"replay.done\"") {
            state.withLock { $0.replayed = true }
        } else if text.contains("\"type\":\"presence\"") {
            let killed = run.killedAt != nil
            state.withLock { state in
                state.lastPresenceAt = monotonicNanos()
                if killed { state.presenceEvents += 1 }
            }
        } else if text.contains("\"type\":\"error\"") || text.contains("\"ok\":false") {
            state.withLock { $0.lastError = String(text.prefix(300)) }
        }
        check()
    }

    /// The node went away: back to the fallback at once, and again after a jittered pause while that fails, for as
    /// long as the scenario waits (60 s) and a little more.
    private func closed() {
        guard let port = fallback else { return }
        Task {
            let deadline = ContinuousClock.now + .seconds(75)
            var attempts = 0
            while ContinuousClock.now < deadline {
                if attempts > 0 { try? await Task.sleep(for: .milliseconds(Int.random(in: 100...500))) }
                attempts += 1
                if (try? await connect(port: port)) != nil { return }
            }
        }
    }
}

/// An integer field of a flat JSON object, found without decoding it: `"name":123`.
func integer(_ name: String, in text: String) -> Int64? {
    guard let start = text.range(of: "\"\(name)\":") else { return nil }
    return Int64(text[start.upperBound...].prefix { $0.isNumber || $0 == "-" })
}

/// The next line of standard input, read on a thread of its own; nil at its end.
func nextInputLine() async -> String? {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: readLine()) }
    }
}
