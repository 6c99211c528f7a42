import NIOCore
import ServiceLifecycle

/// One message off the bus: the channel it was published on, and its payload as published.
public struct BusMessage: Sendable, Hashable {
    public var channel: String
    public var payload: ByteBuffer

    public init(channel: String, payload: ByteBuffer) {
        self.channel = channel
        self.payload = payload
    }
}

/// The socket-adapter bus: pub/sub between the nodes of a cluster (Redis), or inside one process (local).
///
/// A node holds one subscription and changes its channels as its connections come and go, so that it receives
/// only what its own connections need. See docs/architecture.md, "The bus".
public protocol Bus: Service {
    /// Publishes `payload` to everyone subscribed to `channel`, on any node, and returns how many subscriptions
    /// received it: 0 for a node channel means that node is gone.
    @discardableResult
    func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int
    /// Publishes as `publish(_:to:)` does, with no task waiting for the reply: `then` gets how many subscriptions
    /// received it, or the error, on the bus's thread (Redis's event loop, or the caller's in one process). Publishes
    /// keep their order either way, and so do the calls of `then` for one channel (on a Redis Cluster, channels on
    /// different shards answer apart). `then` must not block.
    func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void)

    /// Lends a subscription for the duration of `body`; it is closed when `body` returns or throws. With `receive`,
    /// each delivery is handed to it at once, in order, on the thread that received it (Redis's event loop, or the
    /// publisher's in one process), and `deliveries` only ends when the subscription does: no task hop between the
    /// bus and the subscriber. `receive` must not block.
    func withSubscription<R: Sendable>(
        receive: (@Sendable (BusDelivery) -> Void)?, _ body: (any BusSubscription) async throws -> R
    ) async throws -> R

    // MARK: Presence: which nodes live, and which users are online on them

    /// Marks `node` alive for `ttl`; a node that stops calling this is dead once it lapses. Returns whether the
    /// node's previous beat was still current: false for a first beat, and after the bus lost its state (a Redis
    /// restart), when the node must record its online users again.
    @discardableResult
    func heartbeat(node: String, ttl: Duration) async throws -> Bool
    /// Records that `users` have connections on `node`, and returns those of them that no other node holds. For the
    /// others, held by a live node or by a dead one that no survivor has claimed yet, whoever sees them was never
    /// told they went, and their coming back is no news. One round trip, however many users.
    func recordOnline(users: [String], node: String) async throws -> [String]
    /// Records that `users` have no more connections on `node`, and returns those of them online on no live node
    /// afterwards.
    func recordOffline(users: [String], node: String) async throws -> [String]
    /// Those of `users` online on a live node, asked in one round trip.
    func online(_ users: [String]) async throws -> Set<String>
    /// Whether `node`'s heartbeat is current.
    func isAlive(node: String) async throws -> Bool
    /// Nodes that were registered by a heartbeat and have stopped.
    func deadNodes() async throws -> [String]
    /// Takes over a dead node's clean-up: returns the users it had online and forgets them, or nil when another
    /// node took it over first.
    func claimDeadNode(_ node: String) async throws -> [String]?

    // MARK: Counters: throttles that every node counts into alike

    /// Counts one more against each of `keys`, each in a window of `window` from the key's first count, and
    /// returns each key's count and how long its window has left, in one round trip.
    func count(_ keys: [String], window: Duration) async throws -> [(count: Int, remaining: Duration)]
    /// Sets each of `locks` for its duration, replacing what was set.
    func lock(_ locks: [(key: String, for: Duration)]) async throws
    /// Locks `key` for `duration` unless it is locked already; returns whether this call locked it.
    func acquire(_ key: String, for duration: Duration) async throws -> Bool
    /// How long each of `keys` stays locked; nil where it is not.
    func locked(_ keys: [String]) async throws -> [Duration?]
    /// Forgets the counts and locks of `keys`.
    func reset(_ keys: [String]) async throws
}

/// What a subscription receives.
public enum BusDelivery: Sendable, Hashable {
    case message(BusMessage)
    /// The bus lost its connection and has it back, subscribed again. Messages published in between may be
    /// lost: whoever relies on the subscription must catch up from the store.
    case resumed
}

/// A set of channels whose messages arrive, in publish order per channel, on one stream.
public protocol BusSubscription: Sendable {
    /// Returns once the bus delivers the channels' messages, so that a reader of the store after it misses nothing.
    func subscribe(_ channels: [String]) async throws
    /// Once it returns, no message published to the channels afterwards arrives. Messages published before it may
    /// still arrive, or not: on Redis they come on another connection than the publish's reply.
    func unsubscribe(_ channels: [String]) async throws
    var deliveries: AsyncStream<BusDelivery> { get }
}

extension Bus {
    /// Lends a subscription whose deliveries arrive on `deliveries`.
    public func withSubscription<R: Sendable>(_ body: (any BusSubscription) async throws -> R) async throws -> R {
        try await withSubscription(receive: nil, body)
    }

    /// Records one user online on `node`; returns whether another node holds them too.
    public func recordOnline(user: String, node: String) async throws -> Bool {
        try await recordOnline(users: [user], node: node).isEmpty
    }

    public func isOnline(user: String) async throws -> Bool {
        try await online([user]).contains(user)
    }

    /// Records one user offline on `node`; returns whether they are still online on a live node.
    public func recordOffline(user: String, node: String) async throws -> Bool {
        try await recordOffline(users: [user], node: node).isEmpty
    }
}
