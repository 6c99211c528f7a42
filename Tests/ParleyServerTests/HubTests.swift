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
                // The first join's subscribe waits at the bus, beside the hub's own, before the second join starts.
                if n == 1 { try await waitUntil("the first join's subscribe reaches the bus") { bus.subscribes.waiting == 2 } }
            }
            // What is tested is that the second join does not return: nothing shows that it waits, so it gets a
            // moment in which to return wrongly.
            try await Task.sleep(for: .milliseconds(100))
            #expect(joined.count == 0, "a join returned before the room's channel was subscribed")
            bus.subscribes.open()
            try await waitUntil("both joins return") { joined.count == 2 }
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
            try await waitUntil("the leave's unsubscribe reaches the bus") { bus.unsubscribes.waiting == 1 }
            let joined = Joined()
            let queued = hub.queuedOperations
            group.addTask {
                try await hub.join(second, room: "r_1")
                joined.add(second.id)
            }
            // The join's subscribe queues behind the unsubscribe, and reaches the bus only after it.
            try await waitUntil("the join queues its subscribe") { hub.queuedOperations == queued + 1 }
            bus.unsubscribes.open()
            try await waitUntil("the join returns") { joined.count == 1 }
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
