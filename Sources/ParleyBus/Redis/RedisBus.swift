import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// The bus between nodes: Redis pub/sub, on one Redis (`REDIS_URL`) or on a Redis Cluster's shards (`REDIS_CLUSTER`,
/// sharded pub/sub). The bus keeps the node's subscriptions, presence and counters; its link reaches Redis.
///
/// When Redis goes away, or a shard fails over, the link connects again with backoff, subscribes to every channel
/// again, and tells each subscription `.resumed`, since messages published in between are lost to it.
public final class RedisBus: Bus {
    let subscribers = RedisSubscribers()
    let link: any RedisLink
    let logger: Logger

    /// A bus on one Redis.
    public init(endpoint: RedisEndpoint, logger: Logger) {
        self.logger = logger
        link = RedisServerLink(endpoint: endpoint, subscribers: subscribers, logger: logger)
    }

    /// A bus on a Redis Cluster, found through `seeds`, any of its nodes.
    public init(cluster seeds: [RedisEndpoint], logger: Logger) {
        self.logger = logger
        link = RedisClusterLink(seeds: seeds, subscribers: subscribers, logger: logger)
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
                return try await link.probe()
            } catch let error as RedisError where error.isRefusal {
                throw error
            } catch {
                guard ContinuousClock.now < deadline else { throw RedisError(description: "cannot reach Redis at \(link): \(error)") }
                logger.warning("Redis is not there yet", metadata: ["redis": "\(link)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.link.run() }
        await link.close()
    }

    @discardableResult
    public func publish(_ payload: ByteBuffer, to channel: String) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            link.publish(payload, to: channel) { continuation.resume(with: $0) }
        }
    }

    public func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        link.publish(payload, to: channel, then: then)
    }

    /// A command, and its reply; throws while Redis is away.
    @discardableResult
    func command(_ arguments: String...) async throws -> RESPValue {
        try await pipeline([arguments])[0]
    }

    /// Commands in one round trip (one per shard, on a cluster), and their replies in order; throws while Redis is
    /// away, and on an error reply.
    @discardableResult
    func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        return try await link.pipeline(commands.map { $0.map { ByteBuffer(string: $0) } })
    }
}

/// How the bus reaches Redis: one server (`RedisServerLink`), or a cluster's shards (`RedisClusterLink`).
protocol RedisLink: Sendable, CustomStringConvertible {
    /// Signs in and runs each kind of command the bus runs once; a refusal throws `RedisError.refused`.
    func probe() async throws
    /// Keeps the connections up, and the subscribed channels subscribed, until cancelled.
    func run() async throws
    func close() async
    /// PUBLISH, or SPUBLISH on a cluster; `then` gets how many subscriptions received it.
    func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void)
    /// Commands whose first argument is their key; the replies in order. An error reply throws.
    func pipeline(_ commands: [[ByteBuffer]]) async throws -> [RESPValue]
    /// Subscribes channels no subscription held before, and returns once Redis confirms them, or once their
    /// connection is lost (the link subscribes them again, and tells `.resumed`).
    func subscribe(_ channels: [String]) async
    /// Unsubscribes channels no subscription holds any more.
    func unsubscribe(_ channels: [String]) async
}

/// A link's check at start: each of `commands` run once by `send`, and a `NOPERM` or `NOAUTH` thrown as a refusal that
/// names the command.
func probe(_ commands: [[String]], at place: some CustomStringConvertible, send: ([ByteBuffer]) async throws -> Void) async throws {
    for command in commands {
        do {
            try await send(command.map { ByteBuffer(string: $0) })
        } catch let error as RedisError where error.description.hasPrefix("NOPERM") || error.description.hasPrefix("NOAUTH") {
            throw RedisError.refused(
                "\(place) refused \(command[0]): \(error.description). The ACL user needs the commands and the key and "
                    + "channel patterns in the README's ACL SETUSER line")
        }
    }
}

/// The key commands the bus runs, each once, on keys of a probe's own.
func probeKeyCommands() -> [[String]] {
    let key = "parley:probe:\(UUID().uuidString)"
    return [
        ["SET", key, "1", "PX", "1000", "NX"], ["GET", key], ["PTTL", key], ["EXISTS", key], ["INCR", key + ":n"],
        ["SADD", key + ":s", "m"], ["SMEMBERS", key + ":s"], ["SREM", key + ":s", "m"], ["DEL", key], ["DEL", key + ":n"],
    ]
}
