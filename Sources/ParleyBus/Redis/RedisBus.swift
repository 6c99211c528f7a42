import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The bus between nodes: Redis pub/sub. One connection carries every subscription of the node, another carries
/// its publishes and commands, pipelined.
///
/// When Redis goes away the bus reconnects with backoff, subscribes to every channel again, and tells each
/// subscription `.resumed`, since messages published in between are lost to it.
public final class RedisBus: Bus {
    private struct Subscriber {
        var channels: Set<String> = []
        let continuation: AsyncStream<BusDelivery>.Continuation
        /// Where deliveries go: the subscriber's `receive`, or the stream.
        let deliver: @Sendable (BusDelivery) -> Void
    }

    private struct Confirmation {
        var confirmed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        /// How many subscriptions hold each channel; the node is subscribed while the count is above zero.
        var holders: [String: Int] = [:]
        /// Channels subscribed on Redis and not yet confirmed. The entry is made before SUBSCRIBE goes out, so a
        /// confirmation that comes before its waiter is kept for it.
        var confirming: [String: Confirmation] = [:]
        var listener: RedisConnection?
        var commands: RedisConnection?
        var nextId = 0
    }

    private let host: String
    private let port: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// - Parameter url: `redis://host:port`.
    public init(url: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), components.scheme == "redis", let host = components.host else {
            throw RedisError(description: "REDIS_URL must look like redis://host:port")
        }
        self.host = host
        self.port = components.port ?? 6379
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.maintainConnection() }
        await disconnect()
    }

    /// Connects, waits for the connection to drop, and connects again, with backoff, until cancelled.
    private func maintainConnection() async throws {
        var connectedBefore = false
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await connect(resumed: connectedBefore)
                connectedBefore = true
                backoff = .milliseconds(100)
                logger.info("connected to Redis", metadata: ["redis": "\(host):\(port)"])
                await waitUntilDisconnected()
                logger.warning("lost the connection to Redis; reconnecting")
            } catch {
                logger.warning("cannot reach Redis", metadata: ["error": "\(error)", "retry": "\(backoff)"])
            }
            await disconnect()
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    private func connect(resumed: Bool) async throws {
        let listener = try await RedisConnection.connect(host: host, port: port) { [weak self] in self?.route($0) }
        let commands: RedisConnection
        do {
            commands = try await RedisConnection.connect(host: host, port: port)
        } catch {
            await listener.close()
            throw error
        }
        let channels = state.withLock { state in
            state.listener = listener
            state.commands = commands
            return Array(state.holders.keys)
        }
        if !channels.isEmpty { try await listener.post(["SUBSCRIBE"] + channels) }
        if resumed {
            state.withLock { $0.subscribers.values.map(\.deliver) }.forEach { $0(.resumed) }
        }
    }

    private func waitUntilDisconnected() async {
        guard let (listener, commands) = state.withLock({ state in state.listener.flatMap { l in state.commands.map { (l, $0) } } })
        else { return }
        // Waiting on a close is not cancellable, so cancellation closes the connections to end the wait.
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await listener.closed() }
                group.addTask { await commands.closed() }
                await group.next()
                listener.closeNow()
                commands.closeNow()
            }
        } onCancel: {
            listener.closeNow()
            commands.closeNow()
        }
    }

    private func disconnect() async {
        let (listener, commands, waiting) = state.withLock { state in
            defer {
                state.listener = nil
                state.commands = nil
                state.confirming = [:]
            }
            return (state.listener, state.commands, state.confirming.values.compactMap(\.waiter))
        }
        // Nobody waits for a confirmation that will not come; the resubscription and `.resumed` cover them.
        waiting.forEach { $0.resume() }
        await listener?.close()
        await commands?.close()
    }

    /// Routes a push from the listener: a message to the subscriptions holding its channel, or a confirmation.
    private func route(_ push: RESPValue) {
        guard let parts = push.array, let kind = parts.first?.string else { return }
        switch kind {
        case "message":
            guard parts.count == 3, let channel = parts[1].string, case .bulk(let payload) = parts[2] else { return }
            let message = BusMessage(channel: channel, payload: payload)
            let receivers = state.withLock { $0.subscribers.values.filter { $0.channels.contains(channel) }.map(\.deliver) }
            for deliver in receivers { deliver(.message(message)) }
        case "subscribe":
            guard let channel = parts.dropFirst().first?.string else { return }
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let entry = state.confirming[channel] else { return nil }
                if let waiter = entry.waiter {
                    state.confirming.removeValue(forKey: channel)
                    return waiter
                }
                state.confirming[channel]?.confirmed = true
                return nil
            }
            waiter?.resume()
        default:
            break
        }
    }

    @discardableResult
    public func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int {
        try await receivers(ofPublishing: payload, to: channel).get()
    }

    public func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        do {
            try receivers(ofPublishing: payload, to: channel).whenComplete(then)
        } catch {
            then(.failure(error))
        }
    }

    /// Sends a PUBLISH on the command connection; the future gives how many subscriptions received it.
    private func receivers(ofPublishing payload: ByteBuffer, to channel: String) throws -> EventLoopFuture<Int> {
        try commands().replies(to: [[ByteBuffer(string: "PUBLISH"), ByteBuffer(string: channel), payload]]).map { Int($0[0].integer ?? 0) }
    }

    /// A command on the command connection; throws while Redis is away.
    @discardableResult
    func command(_ arguments: String...) async throws -> RESPValue {
        try await commands().send(arguments.map { ByteBuffer(string: $0) })
    }

    /// Commands on the command connection in one round trip, and their replies in order; throws while Redis is away.
    @discardableResult
    func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        return try await self.commands().pipeline(commands.map { $0.map { ByteBuffer(string: $0) } })
    }

    private func commands() throws -> RedisConnection {
        guard let commands = state.withLock({ $0.commands }) else { throw RedisError(description: "Redis is not connected") }
        return commands
    }

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

    private func finish(_ id: Int) {
        state.withLock { $0.subscribers.removeValue(forKey: id) }?.continuation.finish()
    }

    fileprivate func subscribe(_ id: Int, _ channels: [String]) async {
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

    fileprivate func unsubscribe(_ id: Int, _ channels: [String]) async {
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
