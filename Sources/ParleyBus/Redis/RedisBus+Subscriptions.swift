import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The node's subscriptions: each one's channels, subscribed on the one connection that carries them all.
extension RedisBus {
    public func withSubscription<R: Sendable>(
        receive: (@Sendable (BusDelivery) -> Void)?, _ body: (any BusSubscription) async throws -> R
    ) async throws -> R {
        let (stream, continuation) = AsyncStream.makeStream(of: BusDelivery.self)
        let id = state.withLock { state in
            state.nextId += 1
            state.subscribers[state.nextId] = Subscriber(continuation: continuation, deliver: receive ?? { continuation.yield($0) })
            return state.nextId
        }
        let subscription = Subscription(bus: self, id: id, deliveries: stream)
        do {
            let result = try await body(subscription)
            try? await subscription.unsubscribe(Array(state.withLock { $0.subscribers[id]?.channels ?? [] }))
            finish(id)
            return result
        } catch {
            try? await subscription.unsubscribe(Array(state.withLock { $0.subscribers[id]?.channels ?? [] }))
            finish(id)
            throw error
        }
    }

    func finish(_ id: Int) {
        state.withLock { $0.subscribers.removeValue(forKey: id) }?.continuation.finish()
    }

    func subscribe(_ id: Int, _ channels: [String]) async {
        // Channels the node did not hold yet are subscribed on Redis, and the call waits for Redis to confirm.
        let (fresh, listener) = state.withLock { state -> ([String], RedisConnection?) in
            let added = channels.filter { state.subscribers[id]?.channels.insert($0).inserted == true }
            var fresh: [String] = []
            for channel in added {
                state.holders[channel, default: 0] += 1
                if state.holders[channel] == 1 { fresh.append(channel) }
            }
            guard state.listener != nil else { return ([], nil) }
            for channel in fresh { state.confirming[channel] = Confirmation() }
            return (fresh, state.listener)
        }
        guard !fresh.isEmpty, let listener else { return }
        do {
            try await listener.post(["SUBSCRIBE"] + fresh)
        } catch {
            await disconnect()
            return
        }
        for channel in fresh {
            await withCheckedContinuation { continuation in
                let confirmed = state.withLock { state -> Bool in
                    // No entry: confirmed and taken, or dropped by a disconnect, after which the resubscription
                    // and `.resumed` cover the channel.
                    guard let entry = state.confirming[channel], !entry.confirmed else {
                        state.confirming.removeValue(forKey: channel)
                        return true
                    }
                    state.confirming[channel]?.waiter = continuation
                    return false
                }
                if confirmed { continuation.resume() }
            }
        }
    }

    func unsubscribe(_ id: Int, _ channels: [String]) async {
        let (stale, listener) = state.withLock { state -> ([String], RedisConnection?) in
            let removed = channels.filter { state.subscribers[id]?.channels.remove($0) != nil }
            var stale: [String] = []
            for channel in removed {
                state.holders[channel, default: 1] -= 1
                if state.holders[channel] == 0 {
                    state.holders.removeValue(forKey: channel)
                    stale.append(channel)
                }
            }
            return (stale, state.listener)
        }
        guard !stale.isEmpty, let listener else { return }
        try? await listener.post(["UNSUBSCRIBE"] + stale)
    }

    private struct Subscription: BusSubscription {
        let bus: RedisBus
        let id: Int
        let deliveries: AsyncStream<BusDelivery>

        func subscribe(_ channels: [String]) async throws { await bus.subscribe(id, channels) }
        func unsubscribe(_ channels: [String]) async throws { await bus.unsubscribe(id, channels) }
    }
}
