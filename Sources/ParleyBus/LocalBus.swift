import NIOCore
import ServiceLifecycle
import Synchronization

/// The bus of the embedded default: one process, so a publish is delivered straight to the subscriptions.
public final class LocalBus: Bus {
    private struct Subscriber {
        var channels: Set<String> = []
        let deliver: @Sendable (BusDelivery) -> Void
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    /// Online users with their number of holders: in one process there is one node.
    private let online = Mutex<[String: Int]>([:])
    /// When each node's heartbeat lapses.
    private let beats = Mutex<[String: ContinuousClock.Instant]>([:])
    private let nextId = Atomic<Int>(0)
    /// Counts and locks, with when each lapses. Lapsed ones are swept when the table has doubled since the last
    /// sweep, so that a count costs no walk of the table.
    private let counters = Mutex(Counters())

    private struct Counters {
        var table: [String: (value: Int, lapses: ContinuousClock.Instant)] = [:]
        var sweepAt = 1024
    }

    public init() {}

    public func run() async throws {
        // Nothing to connect to; stays up until the node shuts down.
        try? await gracefulShutdown()
    }

    @discardableResult
    public func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int {
        deliver(payload, to: channel)
    }

    public func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        then(.success(deliver(payload, to: channel)))
    }

    private func deliver(_ payload: ByteBuffer, to channel: String) -> Int {
        let message = BusMessage(channel: channel, payload: payload)
        let receivers = subscribers.withLock { $0.values.filter { $0.channels.contains(channel) }.map(\.deliver) }
        for deliver in receivers { deliver(.message(message)) }
        return receivers.count
    }

    public func withSubscription<R: Sendable>(
        receive: (@Sendable (BusDelivery) -> Void)?, _ body: (any BusSubscription) async throws -> R
    ) async throws -> R {
        let id = nextId.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: BusDelivery.self)
        subscribers.withLock { $0[id] = Subscriber(deliver: receive ?? { continuation.yield($0) }) }
        defer {
            subscribers.withLock { _ = $0.removeValue(forKey: id) }
            continuation.finish()
        }
        return try await body(Subscription(bus: self, id: id, deliveries: stream))
    }

    private struct Subscription: BusSubscription {
        let bus: LocalBus
        let id: Int
        let deliveries: AsyncStream<BusDelivery>

        func subscribe(_ channels: [String]) async throws {
            bus.subscribers.withLock { $0[id]?.channels.formUnion(channels) }
        }

        func unsubscribe(_ channels: [String]) async throws {
            bus.subscribers.withLock { $0[id]?.channels.subtract(channels) }
        }
    }

    @discardableResult
    public func heartbeat(node: String, ttl: Duration) async throws -> Bool {
        beats.withLock { beats in
            defer { beats[node] = .now + ttl }
            return beats[node].map { $0 > .now } ?? false
        }
    }

    /// A node is alive while its last beat lasts: in one process that is this process's own node, and a node id
    /// left in the store by an earlier run of it is dead.
    public func isAlive(node: String) async throws -> Bool {
        beats.withLock { $0[node].map { $0 > .now } ?? false }
    }

    public func recordOnline(users: [String], node: String) async throws -> [String] {
        online.withLock { online in
            users.filter { user in
                defer { online[user, default: 0] += 1 }
                return online[user] == nil
            }
        }
    }

    public func recordOffline(users: [String], node: String) async throws -> [String] {
        online.withLock { online in
            users.filter { user in
                online[user, default: 0] -= 1
                if online[user]! <= 0 { online.removeValue(forKey: user) }
                return online[user] == nil
            }
        }
    }

    public func online(_ users: [String]) async throws -> Set<String> {
        online.withLock { online in Set(users.filter { online[$0] != nil }) }
    }

    /// One process cannot outlive itself: no node is ever dead here.
    public func deadNodes() async throws -> [String] { [] }

    public func claimDeadNode(_ node: String) async throws -> [String]? { nil }

    public func count(_ keys: [String], window: Duration) async throws -> [(count: Int, remaining: Duration)] {
        let now = ContinuousClock.now
        return counters.withLock { counters in
            if counters.table.count >= counters.sweepAt {
                counters.table = counters.table.filter { $0.value.lapses > now }
                counters.sweepAt = max(1024, 2 * counters.table.count)
            }
            return keys.map { key in
                var counter = counters.table[key].flatMap { $0.lapses > now ? $0 : nil } ?? (value: 0, lapses: now + window)
                counter.value += 1
                counters.table[key] = counter
                return (counter.value, counter.lapses - now)
            }
        }
    }

    public func lock(_ locks: [(key: String, for: Duration)]) async throws {
        let now = ContinuousClock.now
        counters.withLock { counters in
            for lock in locks { counters.table[lock.key] = (value: 1, lapses: now + lock.for) }
        }
    }

    public func acquire(_ key: String, for duration: Duration) async throws -> Bool {
        let now = ContinuousClock.now
        return counters.withLock { counters in
            if let lock = counters.table[key], lock.lapses > now { return false }
            counters.table[key] = (value: 1, lapses: now + duration)
            return true
        }
    }

    public func locked(_ keys: [String]) async throws -> [Duration?] {
        let now = ContinuousClock.now
        return counters.withLock { counters in keys.map { key in counters.table[key].flatMap { $0.lapses > now ? $0.lapses - now : nil } } }
    }

    public func reset(_ keys: [String]) async throws {
        counters.withLock { counters in
            for key in keys { counters.table[key] = nil }
        }
    }
}
