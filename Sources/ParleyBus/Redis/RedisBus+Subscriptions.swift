/// The node's subscriptions: each one's channels, subscribed on Redis by the link while any subscription holds them.
extension RedisBus {
    public func withSubscription<R: Sendable>(
        receive: (@Sendable (BusDelivery) -> Void)?, _ body: (any BusSubscription) async throws -> R
    ) async throws -> R {
        let (id, deliveries) = subscribers.register(receive: receive)
        let subscription = Subscription(bus: self, id: id, deliveries: deliveries)
        do {
            let result = try await body(subscription)
            try? await subscription.unsubscribe(subscribers.channels(of: id))
            subscribers.finish(id)
            return result
        } catch {
            try? await subscription.unsubscribe(subscribers.channels(of: id))
            subscribers.finish(id)
            throw error
        }
    }

    private struct Subscription: BusSubscription {
        let bus: RedisBus
        let id: Int
        let deliveries: AsyncStream<BusDelivery>

        func subscribe(_ channels: [String]) async throws {
            let fresh = bus.subscribers.add(channels, to: id)
            if !fresh.isEmpty { await bus.link.subscribe(fresh) }
        }

        func unsubscribe(_ channels: [String]) async throws {
            let stale = bus.subscribers.remove(channels, from: id)
            if !stale.isEmpty { await bus.link.unsubscribe(stale) }
        }
    }
}
