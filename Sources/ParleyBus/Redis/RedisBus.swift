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

    private let endpoint: RedisEndpoint
    let logger: Logger
    let state = Mutex(State())

    public init(endpoint: RedisEndpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    /// - Parameter url: a `REDIS_URL` without TLS files.
    public convenience init(url: String, logger: Logger) throws {
        self.init(endpoint: try RedisEndpoint(url: url), logger: logger)
    }

    /// Checks, before the node starts, that Redis takes it: it signs in, over TLS if asked, and runs once each kind
    /// of command the bus runs, on keys and channels like the bus's. A refusal (a wrong password, a permission the
    /// ACL user lacks, a certificate not trusted) throws at once with what was refused; a Redis that cannot be
    /// reached is waited for, up to `patience`.
    public func verify(patience: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try await probe()
            } catch let error as RedisError where error.isRefusal {
                throw error
            } catch {
                guard ContinuousClock.now < deadline else { throw RedisError(description: "cannot reach Redis at \(endpoint): \(error)") }
                logger.warning("Redis is not there yet", metadata: ["redis": "\(endpoint)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// The commands the bus runs, each once: a NOPERM names what the ACL user lacks.
    private func probe() async throws {
        let connection = try await RedisConnection.connect(endpoint)
        defer { connection.closeNow() }
        let key = "parley:probe:\(UUID().uuidString)"
        let commands = [
            ["SET", key, "1", "PX", "1000", "NX"], ["GET", key], ["PTTL", key], ["EXISTS", key], ["INCR", key + ":n"],
            ["SADD", key + ":s", "m"], ["SMEMBERS", key + ":s"], ["SREM", key + ":s", "m"], ["DEL", key, key + ":n"],
            ["PUBLISH", "parley:probe", "1"], ["SUBSCRIBE", "parley:probe"], ["UNSUBSCRIBE", "parley:probe"],
        ]
        for command in commands {
            do {
                try await connection.send(command.map { ByteBuffer(string: $0) })
            } catch let error as RedisError where error.description.hasPrefix("NOPERM") || error.description.hasPrefix("NOAUTH") {
                throw RedisError.refused(
                    "\(endpoint) refused \(command[0]): \(error.description). The ACL user needs the commands and the key and channel "
                        + "patterns in the README's ACL SETUSER line")
            }
        }
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
                logger.info("connected to Redis", metadata: ["redis": "\(endpoint)"])
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
        let listener = try await RedisConnection.connect(endpoint) { [weak self] in self?.route($0) }
        let commands: RedisConnection
        do {
            commands = try await RedisConnection.connect(endpoint)
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
