import Foundation
import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore
import Synchronization
import Testing

@testable import ParleyServer

/// A local bus whose subscriptions hold every SUBSCRIBE until the test opens the gate: a Redis that is slow to
/// answer, as it is in a reconnect storm. The real bus is exercised by the cluster tests.
final class GatedBus: Bus {
    private let local = LocalBus()
    private let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiting = gate.withLock { gate in
            gate.open = true
            defer { gate.waiting = [] }
            return gate.waiting
        }
        waiting.forEach { $0.resume() }
    }

    fileprivate func passGate() async {
        await withCheckedContinuation { continuation in
            let open = gate.withLock { gate in
                if !gate.open { gate.waiting.append(continuation) }
                return gate.open
            }
            if open { continuation.resume() }
        }
    }

    func run() async throws { try await local.run() }
    func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int { try await local.publish(payload, to: channel) }
    func withSubscription<R: Sendable>(_ body: (any BusSubscription) async throws -> R) async throws -> R {
        try await local.withSubscription { try await body(Gated(bus: self, inner: $0)) }
    }
    func heartbeat(node: String, ttl: Duration) async throws -> Bool { try await local.heartbeat(node: node, ttl: ttl) }
    func recordOnline(user: String, node: String) async throws -> Bool { try await local.recordOnline(user: user, node: node) }
    func recordOffline(user: String, node: String) async throws -> Bool { try await local.recordOffline(user: user, node: node) }
    func isOnline(user: String) async throws -> Bool { try await local.isOnline(user: user) }
    func isAlive(node: String) async throws -> Bool { try await local.isAlive(node: node) }
    func deadNodes() async throws -> [String] { try await local.deadNodes() }
    func claimDeadNode(_ node: String) async throws -> [String]? { try await local.claimDeadNode(node) }

    private struct Gated: BusSubscription {
        let bus: GatedBus
        let inner: any BusSubscription
        var deliveries: AsyncStream<BusDelivery> { inner.deliveries }

        func subscribe(_ channels: [String]) async throws {
            await bus.passGate()
            try await inner.subscribe(channels)
        }

        func unsubscribe(_ channels: [String]) async throws { try await inner.unsubscribe(channels) }
    }
}

@Suite("The hub")
struct HubTests {
    @Test("a second socket joining a room waits, as the first does, until the node receives the room's channel")
    func joinWaitsForTheSubscription() async throws {
        let bus = GatedBus()
        let hub = Hub(nodeId: "ws-1~t", name: "ws-1", bus: bus, logger: Logger(label: "test"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hub-\(UUID().uuidString).sqlite").path
        let store = try await SQLStore.sqlite(path: path, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            group.addTask { try await hub.run() }
            defer { group.cancelAll() }
            let joined = Joined()
            for id in ["ws-1~t.1", "ws-1~t.2"] {
                let connection = Connection(id: id, userId: "u_\(id.suffix(1))", tokenExpiry: .distantFuture, store: store)
                group.addTask {
                    try await hub.join(connection, room: "r_1")
                    joined.add(id)
                }
                // The first join is on its way before the second starts.
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(joined.count == 0, "a join returned before the room's channel was subscribed")
            bus.open()
            for _ in 0..<500 where joined.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(joined.count == 2)
        }
    }
}

/// The sockets whose join returned.
final class Joined: Sendable {
    private let ids = Mutex<[String]>([])
    func add(_ id: String) { ids.withLock { $0.append(id) } }
    var count: Int { ids.withLock { $0.count } }
}
