import NIOCore
import ParleyBus

/// A local bus whose subscriptions hold each SUBSCRIBE and UNSUBSCRIBE, and whose publishes wait, at gates until the
/// test opens them: a Redis that is slow to answer, as it is in a reconnect storm. The real bus is exercised by the
/// bus and cluster tests.
public final class GatedBus: Bus {
    private let local = LocalBus()
    public let subscribes: Gate
    public let unsubscribes: Gate
    public let publishes: Gate

    public init(subscribes: Gate = Gate(), unsubscribes: Gate = Gate(open: true), publishes: Gate = Gate(open: true)) {
        self.subscribes = subscribes
        self.unsubscribes = unsubscribes
        self.publishes = publishes
    }

    public func run() async throws { try await local.run() }
    public func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int {
        await publishes.pass()
        return try await local.publish(payload, to: channel)
    }
    public func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        // Owned by no one: it ends once the publishes' gate opens, which a test that closes it does before it ends.
        Task {
            do { then(.success(try await publish(payload, to: channel))) } catch { then(.failure(error)) }
        }
    }
    public func withSubscription<R: Sendable>(
        receive: (@Sendable (BusDelivery) -> Void)?, _ body: (any BusSubscription) async throws -> R
    ) async throws -> R {
        try await local.withSubscription(receive: receive) { try await body(Gated(bus: self, inner: $0)) }
    }
    public func heartbeat(node: String, ttl: Duration) async throws -> Bool { try await local.heartbeat(node: node, ttl: ttl) }
    public func recordOnline(users: [String], node: String) async throws -> [String] { try await local.recordOnline(users: users, node: node) }
    public func recordOffline(users: [String], node: String) async throws -> [String] { try await local.recordOffline(users: users, node: node) }
    public func online(_ users: [String]) async throws -> Set<String> { try await local.online(users) }
    public func isAlive(node: String) async throws -> Bool { try await local.isAlive(node: node) }
    public func deadNodes() async throws -> [String] { try await local.deadNodes() }
    public func claimDeadNode(_ node: String) async throws -> [String]? { try await local.claimDeadNode(node) }
    public func count(_ keys: [String], window: Duration) async throws -> [(count: Int, remaining: Duration)] {
        try await local.count(keys, window: window)
    }
    public func lock(_ locks: [(key: String, for: Duration)]) async throws { try await local.lock(locks) }
    public func locked(_ keys: [String]) async throws -> [Duration?] { try await local.locked(keys) }
    public func acquire(_ key: String, for duration: Duration) async throws -> Bool { try await local.acquire(key, for: duration) }
    public func reset(_ keys: [String]) async throws { try await local.reset(keys) }

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
