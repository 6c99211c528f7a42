import NIOCore
import ServiceLifecycle
import Synchronization

/// The bus of the embedded default: one process, so a publish is delivered straight to the subscriptions.
public final class LocalBus: Bus {
    private struct Subscriber {
        var channels: Set<String> = []
        let continuation: AsyncStream<BusDelivery>.Continuation
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextId = Atomic<Int>(0)

    public init() {}

    public func run() async throws {
        // Nothing to connect to; stays up until the node shuts down.
        try? await gracefulShutdown()
    }

    public func publish(_ payload: ByteBuffer, to channel: String) async throws {
        let message = BusMessage(channel: channel, payload: payload)
        subscribers.withLock { subscribers in
            for subscriber in subscribers.values where subscriber.channels.contains(channel) {
                subscriber.continuation.yield(.message(message))
            }
        }
    }

    public func withSubscription<R: Sendable>(_ body: (any BusSubscription) async throws -> R) async throws -> R {
        let id = nextId.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: BusDelivery.self)
        subscribers.withLock { $0[id] = Subscriber(continuation: continuation) }
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
}
