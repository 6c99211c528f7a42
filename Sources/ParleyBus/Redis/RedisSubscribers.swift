import NIOCore
import Synchronization

/// The node's subscriptions, however it reaches Redis: each subscription's channels, and how many subscriptions hold
/// each channel. The node is subscribed on Redis to a channel while any subscription holds it.
final class RedisSubscribers: Sendable {
    private struct Subscriber {
        var channels: Set<String> = []
        let continuation: AsyncStream<BusDelivery>.Continuation
        /// Where deliveries go: the subscriber's `receive`, or the stream.
        let deliver: @Sendable (BusDelivery) -> Void
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var holders: [String: Int] = [:]
        var nextId = 0
    }

    private let state = Mutex(State())

    /// A new subscription: its id, and the stream its deliveries arrive on unless `receive` takes them.
    func register(receive: (@Sendable (BusDelivery) -> Void)?) -> (id: Int, deliveries: AsyncStream<BusDelivery>) {
        let (stream, continuation) = AsyncStream.makeStream(of: BusDelivery.self)
        let id = state.withLock { state in
            state.nextId += 1
            state.subscribers[state.nextId] = Subscriber(continuation: continuation, deliver: receive ?? { continuation.yield($0) })
            return state.nextId
        }
        return (id, stream)
    }

    func finish(_ id: Int) {
        state.withLock { $0.subscribers.removeValue(forKey: id) }?.continuation.finish()
    }

    func channels(of id: Int) -> [String] {
        state.withLock { Array($0.subscribers[id]?.channels ?? []) }
    }

    /// Adds `channels` to subscription `id`, and returns those the node held for nobody before: they are to be
    /// subscribed on Redis.
    func add(_ channels: [String], to id: Int) -> [String] {
        state.withLock { state in
            channels.filter { state.subscribers[id]?.channels.insert($0).inserted == true }.filter { channel in
                state.holders[channel, default: 0] += 1
                return state.holders[channel] == 1
            }
        }
    }

    /// Takes `channels` from subscription `id`, and returns those no subscription holds any more: they are to be
    /// unsubscribed on Redis.
    func remove(_ channels: [String], from id: Int) -> [String] {
        state.withLock { state in
            channels.filter { state.subscribers[id]?.channels.remove($0) != nil }.filter { channel in
                state.holders[channel, default: 1] -= 1
                guard state.holders[channel] == 0 else { return false }
                state.holders.removeValue(forKey: channel)
                return true
            }
        }
    }

    /// Every channel some subscription holds.
    var held: [String] { state.withLock { Array($0.holders.keys) } }

    func deliver(_ message: BusMessage) {
        let receivers = state.withLock { $0.subscribers.values.filter { $0.channels.contains(message.channel) }.map(\.deliver) }
        for deliver in receivers { deliver(.message(message)) }
    }

    /// Tells every subscription that messages may have been lost while the node was not subscribed.
    func resumed() {
        state.withLock { $0.subscribers.values.map(\.deliver) }.forEach { $0(.resumed) }
    }
}

/// Subscribes waiting for Redis to confirm their channels. A channel is expected before its SUBSCRIBE goes out, so
/// that a confirmation that comes before its waiter is kept for it. A channel expected again while a subscribe still
/// waits for it (unsubscribed and subscribed again meanwhile) keeps that waiter, and both go with the next confirmation.
final class RedisConfirmations: Sendable {
    private struct Entry {
        var confirmed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let entries = Mutex([String: Entry]())

    func expect(_ channels: [String]) {
        entries.withLock { entries in
            for channel in channels { entries[channel, default: Entry()].confirmed = false }
        }
    }

    func confirm(_ channel: String) {
        let waiters = entries.withLock { entries -> [CheckedContinuation<Void, Never>] in
            guard let entry = entries[channel] else { return [] }
            guard !entry.waiters.isEmpty else {
                entries[channel]?.confirmed = true
                return []
            }
            entries.removeValue(forKey: channel)
            return entry.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns once each of `channels` is confirmed, or released.
    func wait(for channels: [String]) async {
        for channel in channels {
            await withCheckedContinuation { continuation in
                let done = entries.withLock { entries -> Bool in
                    // No entry: confirmed and taken, or released, after which whoever released it subscribes again.
                    guard let entry = entries[channel], !entry.confirmed else {
                        entries.removeValue(forKey: channel)
                        return true
                    }
                    entries[channel]?.waiters.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    /// How many subscribes wait for `channel`'s confirmation.
    func waiting(_ channel: String) -> Int {
        entries.withLock { $0[channel]?.waiters.count ?? 0 }
    }

    /// Stops waiting for `channels`' confirmations, or for all when nil: their connection is gone, and they will be
    /// subscribed again, with `.resumed` told.
    func release(_ channels: [String]? = nil) {
        let waiters = entries.withLock { entries -> [CheckedContinuation<Void, Never>] in
            let released = channels ?? Array(entries.keys)
            return released.flatMap { entries.removeValue(forKey: $0)?.waiters ?? [] }
        }
        waiters.forEach { $0.resume() }
    }
}
