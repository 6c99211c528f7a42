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
    struct Subscriber {
        var channels: Set<String> = []
        let continuation: AsyncStream<BusDelivery>.Continuation
        /// Where deliveries go: the subscriber's `receive`, or the stream.
        let deliver: @Sendable (BusDelivery) -> Void
    }

    struct Confirmation {
        var confirmed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    struct State {
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
    let logger: Logger
    let state = Mutex(State())

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

    func disconnect() async {
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
}
