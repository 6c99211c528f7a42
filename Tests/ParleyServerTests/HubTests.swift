import Foundation
import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Synchronization
import Testing

@testable import ParleyServer

/// A local bus whose subscriptions hold each SUBSCRIBE and UNSUBSCRIBE at a gate until the test opens it: a Redis
/// that is slow to answer, as it is in a reconnect storm. The real bus is exercised by the cluster tests.
final class GatedBus: Bus {
    private let local = LocalBus()
    let subscribes: Gate
    let unsubscribes: Gate
    let publishes: Gate

    init(subscribes: Gate = Gate(), unsubscribes: Gate = Gate(open: true), publishes: Gate = Gate(open: true)) {
        self.subscribes = subscribes
        self.unsubscribes = unsubscribes
        self.publishes = publishes
    }

    func run() async throws { try await local.run() }
    func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int {
        await publishes.pass()
        return try await local.publish(payload, to: channel)
    }
    func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        Task {
            do { then(.success(try await publish(payload, to: channel))) } catch { then(.failure(error)) }
        }
    }
    func withSubscription<R: Sendable>(
        receive: (@Sendable (BusDelivery) -> Void)?, _ body: (any BusSubscription) async throws -> R
    ) async throws -> R {
        try await local.withSubscription(receive: receive) { try await body(Gated(bus: self, inner: $0)) }
    }
    func heartbeat(node: String, ttl: Duration) async throws -> Bool { try await local.heartbeat(node: node, ttl: ttl) }
    func recordOnline(users: [String], node: String) async throws -> [String] { try await local.recordOnline(users: users, node: node) }
    func recordOffline(users: [String], node: String) async throws -> [String] { try await local.recordOffline(users: users, node: node) }
    func online(_ users: [String]) async throws -> Set<String> { try await local.online(users) }
    func isAlive(node: String) async throws -> Bool { try await local.isAlive(node: node) }
    func deadNodes() async throws -> [String] { try await local.deadNodes() }
    func claimDeadNode(_ node: String) async throws -> [String]? { try await local.claimDeadNode(node) }
    func count(_ keys: [String], window: Duration) async throws -> [(count: Int, remaining: Duration)] {
        try await local.count(keys, window: window)
    }
    func lock(_ locks: [(key: String, for: Duration)]) async throws { try await local.lock(locks) }
    func locked(_ keys: [String]) async throws -> [Duration?] { try await local.locked(keys) }
    func acquire(_ key: String, for duration: Duration) async throws -> Bool { try await local.acquire(key, for: duration) }
    func reset(_ keys: [String]) async throws { try await local.reset(keys) }

    private struct Gated: BusSubscription {
        let bus: GatedBus
        let inner: any BusSubscription
        var deliveries: AsyncStream<BusDelivery> { inner.deliveries }

        func subscribe(_ channels: [String]) async throws {
            await bus.subscribes.pass()
            try await inner.subscribe(channels)
        }

        func unsubscribe(_ channels: [String]) async throws {
            await bus.unsubscribes.pass()
            try await inner.unsubscribe(channels)
        }
    }
}

/// Holds whoever passes until it is opened.
final class Gate: Sendable {
    private let state: Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>

    init(open: Bool = false) {
        state = Mutex((open, []))
    }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume() }
    }

    /// How many wait at the gate.
    var waiting: Int { state.withLock { $0.waiting.count } }

    func pass() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiting.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }
}

@Suite("The hub")
struct HubTests {
    @Test("a second socket joining a room waits, as the first does, until the node receives the room's channel")
    func joinWaitsForTheSubscription() async throws {
        let bus = GatedBus()
        try await withHub(on: bus) { hub, connection, group in
            let joined = Joined()
            for n in 1...2 {
                let socket = connection(n)
                group.addTask {
                    try await hub.join(socket, room: "r_1")
                    joined.add(socket.id)
                }
                // The first join is on its way before the second starts.
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(joined.count == 0, "a join returned before the room's channel was subscribed")
            bus.subscribes.open()
            for _ in 0..<500 where joined.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(joined.count == 2)
        }
    }

    @Test("a socket joining a room as its last socket leaves is subscribed after the leave's unsubscribe, not undone by it")
    func joinAfterTheLastLeave() async throws {
        let bus = GatedBus(subscribes: Gate(open: true), unsubscribes: Gate())
        try await withHub(on: bus) { hub, connection, group in
            let (first, second) = (connection(1), connection(2))
            try await hub.join(first, room: "r_1")
            // The leave's unsubscribe is on its way when the second socket joins.
            group.addTask { await hub.leave(first, room: "r_1") }
            try await Task.sleep(for: .milliseconds(100))
            let joined = Joined()
            group.addTask {
                try await hub.join(second, room: "r_1")
                joined.add(second.id)
            }
            try await Task.sleep(for: .milliseconds(100))
            bus.unsubscribes.open()
            for _ in 0..<500 where joined.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(joined.count == 1)
            #expect(try await bus.publish(ByteBuffer(string: "{}"), to: Channel.room("r_1")) == 1, "the node lost the room's channel")
        }
    }

    /// Runs a hub on `bus` with a store, and `body` with it, a maker of its connections, and a task group that is
    /// cancelled afterwards.
    private func withHub(
        on bus: GatedBus, _ body: (Hub, (Int) -> Connection, inout ThrowingTaskGroup<Void, any Error>) async throws -> Void
    ) async throws {
        let hub = Hub(nodeId: "ws-1~t", name: "ws-1", bus: bus, logger: Logger(label: "test"))
        let path = scratchSQLitePath("hub")
        defer { removeSQLite(at: path) }
        let store = try await SQLStore.sqlite(path: path, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            group.addTask { try await hub.run() }
            defer { group.cancelAll() }
            let connection = { (n: Int) in
                Connection(id: "ws-1~t.\(n)", userId: "u_\(n)", tokenExpiry: .distantFuture, store: store, sink: RecordingSink())
            }
            try await body(hub, connection, &group)
        }
    }
}

/// The sockets whose join returned.
final class Joined: Sendable {
    private let ids = Mutex<[String]>([])
    func add(_ id: String) { ids.withLock { $0.append(id) } }
    var count: Int { ids.withLock { $0.count } }
}

@Suite("Pending flushes")
struct PendingFlushesTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("a small fan-out's flush is queued at once, and sockets written meanwhile join it")
    func small() {
        var flushes = PendingFlushes<Int>(window: .milliseconds(20))
        #expect(flushes.add([1, 2], large: false, now: start) == .now)
        #expect(flushes.add([3], large: false, now: start) == .queued)
        #expect(flushes.take(large: false, now: start) == [1, 2, 3])
        #expect(flushes.add([4], large: false, now: start) == .now)
    }

    @Test("a large fan-out's flush waits until the window has passed since the last one, and a small one never does")
    func large() {
        var flushes = PendingFlushes<Int>(window: .milliseconds(20))
        // The first large fan-out, or one after a quiet window, is flushed at once.
        #expect(flushes.add([1, 2], large: true, now: start) == .now)
        #expect(flushes.take(large: true, now: start) == [1, 2])
        let soon = start + .milliseconds(5)
        #expect(flushes.add([1, 2], large: true, now: soon) == .at(start + .milliseconds(20)))
        #expect(flushes.add([3], large: true, now: soon) == .queued)
        // A small fan-out, a signal say, is flushed at once while a large one waits, and on its own list.
        #expect(flushes.add([9], large: false, now: soon) == .now)
        #expect(flushes.take(large: false, now: soon) == [9])
        let due = start + .milliseconds(20)
        #expect(flushes.take(large: true, now: due) == [1, 2, 3])
        #expect(flushes.add([1], large: true, now: due + .milliseconds(20)) == .now)
    }

    @Test("with no window, a large fan-out is flushed as a small one is")
    func noWindow() {
        var flushes = PendingFlushes<Int>(window: .zero)
        #expect(flushes.add([1], large: true, now: start) == .now)
        #expect(flushes.take(large: true, now: start) == [1])
        #expect(flushes.add([2], large: true, now: start + .milliseconds(1)) == .now)
    }
}
