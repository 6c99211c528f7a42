import Foundation
import Logging
import NIOCore
import Synchronization

/// One Redis: one connection carries every subscription of the node, another its publishes and commands, pipelined.
final class RedisServerLink: RedisLink {
    private struct State {
        var listener: RedisConnection?
        var commands: RedisConnection?
    }

    private let endpoint: RedisEndpoint
    private let subscribers: RedisSubscribers
    private let confirmations = RedisConfirmations()
    private let logger: Logger
    private let state = Mutex(State())

    init(endpoint: RedisEndpoint, subscribers: RedisSubscribers, logger: Logger) {
        self.endpoint = endpoint
        self.subscribers = subscribers
        self.logger = logger
    }

    var description: String { endpoint.description }

    func probe() async throws {
        let connection = try await RedisConnection.connect(endpoint)
        defer { connection.closeNow() }
        let pubSub = [["PUBLISH", "parley:probe", "1"], ["SUBSCRIBE", "parley:probe"], ["UNSUBSCRIBE", "parley:probe"]]
        try await ParleyBus.probe(probeKeyCommands() + pubSub, at: endpoint) { try await connection.send($0) }
    }

    /// Connects, waits for the connection to drop, and connects again, with backoff, until cancelled.
    func run() async throws {
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
            await close()
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
        state.withLock { state in
            state.listener = listener
            state.commands = commands
        }
        // Read after the listener is in place: a channel added since is either here or subscribed by its subscribe.
        let channels = subscribers.held
        if !channels.isEmpty { try await listener.post(["SUBSCRIBE"] + channels) }
        if resumed { subscribers.resumed() }
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

    func close() async {
        let (listener, commands) = state.withLock { state in
            defer { state = State() }
            return (state.listener, state.commands)
        }
        await listener?.close()
        await commands?.close()
        // Nobody waits for a confirmation that will not come; the resubscription and `.resumed` cover them.
        confirmations.release()
    }

    /// Routes a push from the listener: a message to the subscriptions holding its channel, or a confirmation.
    private func route(_ push: RESPValue) {
        guard let parts = push.array, let kind = parts.first?.string else { return }
        switch kind {
        case "message":
            guard parts.count == 3, let channel = parts[1].string, case .bulk(let payload) = parts[2] else { return }
            subscribers.deliver(BusMessage(channel: channel, payload: payload))
        case "subscribe":
            if let channel = parts.dropFirst().first?.string { confirmations.confirm(channel) }
        default:
            break
        }
    }

    func subscribe(_ channels: [String]) async {
        guard let listener = state.withLock({ $0.listener }) else { return }
        confirmations.expect(channels)
        do {
            try await listener.post(["SUBSCRIBE"] + channels)
        } catch {
            await close()
            return
        }
        await confirmations.wait(for: channels)
    }

    func unsubscribe(_ channels: [String]) async {
        try? await state.withLock({ $0.listener })?.post(["UNSUBSCRIBE"] + channels)
    }

    /// Sends a PUBLISH on the command connection; `then` gets how many subscriptions received it.
    func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        do {
            try commands().replies(to: [[ByteBuffer(string: "PUBLISH"), ByteBuffer(string: channel), payload]])
                .map { Int($0[0].integer ?? 0) }.whenComplete(then)
        } catch {
            then(.failure(error))
        }
    }

    func pipeline(_ commands: [[ByteBuffer]]) async throws -> [RESPValue] {
        try await self.commands().pipeline(commands)
    }

    private func commands() throws -> RedisConnection {
        guard let commands = state.withLock({ $0.commands }) else { throw RedisError(description: "Redis is not connected") }
        return commands
    }
}
