import Foundation
import Logging
import NIOCore
import Synchronization

/// A Redis Cluster, reached through its shards' masters, with sharded pub/sub: a channel's SPUBLISH and a key's
/// commands go to the master that serves its slot, and the node's channels are subscribed (SSUBSCRIBE, batched by
/// slot) on one connection per master that serves any of them, so that a message goes to one shard only.
///
/// It follows the cluster: `CLUSTER SHARDS` at start, on MOVED and ASK, when a master pushes `sunsubscribe` for a
/// slot that moved away, when a connection drops, and every few seconds. Channels whose subscription was lost are
/// subscribed again on the slot's new master, and every subscription is told `.resumed`, to catch up from the store.
final class RedisClusterLink: RedisLink {
    typealias Address = RedisClusterTopology.Address

    struct State {
        var topology: RedisClusterTopology?
        var refreshing: Task<RedisClusterTopology, any Error>?
        var commands: [Address: RedisConnection] = [:]
        var listeners: [Address: RedisConnection] = [:]
        /// Connections being opened: who asks for one meanwhile waits for it, so that a burst of subscribes or
        /// publishes to a master opens one connection, not one each.
        var dialing: [Dialing: Task<RedisConnection, any Error>] = [:]
        /// Where each channel is subscribed, by Parley's name; absent while it is not.
        var placed: [String: Address] = [:]
        /// Channels a subscribe is placing: `run` leaves them to it, rather than subscribe them twice and tell every
        /// subscription `.resumed` for nothing.
        var placing: [String: Int] = [:]
        /// Publishes that follow the cluster, in order, the first one going; while any waits, later ones queue too,
        /// so that publishes keep their order.
        var following: [Publish] = []
        var closed = false

        subscript(pool: Pool) -> [Address: RedisConnection] {
            get { pool == .commands ? commands : listeners }
            set { if pool == .commands { commands = newValue } else { listeners = newValue } }
        }
    }

    enum Pool {
        case commands, listeners
    }

    struct Dialing: Hashable {
        let pool: Pool
        let address: Address
    }

    /// A pool's connection to a master: open, or being opened.
    private enum Found {
        case open(RedisConnection)
        case dialing(Task<RedisConnection, any Error>)
    }

    struct Publish {
        let command: [ByteBuffer]
        let then: @Sendable (Result<Int, any Error>) -> Void
    }

    /// How long a command follows redirections and waits out a failover before it fails.
    static let patience = Duration.seconds(10)
    /// How often the link reads the topology when nothing prompts it.
    static let refreshEvery = Duration.seconds(5)
    /// The longest pause before the link tries again to subscribe channels whose master is gone.
    static let retryAtMost = Duration.milliseconds(250)

    private let seeds: [RedisEndpoint]
    let subscribers: RedisSubscribers
    let confirmations = RedisConfirmations()
    let logger: Logger
    let state = Mutex(State())
    private let wakes: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation
    /// Tells `run` that a publish waits to follow the cluster.
    let published: AsyncStream<Void>
    let publisher: AsyncStream<Void>.Continuation

    init(seeds: [RedisEndpoint], subscribers: RedisSubscribers, logger: Logger) {
        precondition(!seeds.isEmpty, "a cluster needs a seed node")
        self.seeds = seeds
        self.subscribers = subscribers
        self.logger = logger
        (wakes, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (published, publisher) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var description: String { "the Redis Cluster at \(seeds.map { "\($0.host):\($0.port)" }.joined(separator: ","))" }

    /// A master's endpoint: a seed's user, password and TLS, at the master's address.
    func endpoint(_ address: Address) -> RedisEndpoint {
        var endpoint = seeds[0]
        (endpoint.host, endpoint.port) = (address.host, address.port)
        return endpoint
    }

    /// Prompts `run` to bring the subscriptions in line with the cluster.
    func wake() { waker.yield() }

    // MARK: Checking at start

    func probe() async throws {
        try await refresh()
        try await ParleyBus.probe(probeKeyCommands() + [["SPUBLISH", "parley:probe", "1"]], at: self) { _ = try await pipeline([$0]) }
        // ASKING, and the subscriber's commands, on a connection of their own to the channel's master.
        guard let master = try await topology().master(of: RedisSlots.slot("parley:probe")) else { return }
        let connection = try await RedisConnection.connect(endpoint(master))
        defer { connection.closeNow() }
        try await ParleyBus.probe([["ASKING"], ["SSUBSCRIBE", "parley:probe"], ["SUNSUBSCRIBE", "parley:probe"]], at: self) {
            try await connection.send($0)
        }
    }

    // MARK: The topology

    func topology() async throws -> RedisClusterTopology {
        if let topology = state.withLock({ $0.topology }) { return topology }
        return try await refresh()
    }

    /// Reads the cluster's shards again; who asks while a reading runs gets its answer.
    @discardableResult
    func refresh() async throws -> RedisClusterTopology {
        let reading = state.withLock { state in
            if let running = state.refreshing { return running }
            let task = Task {
                defer { self.state.withLock { $0.refreshing = nil } }
                let topology = try await self.readShards()
                self.state.withLock { $0.topology = topology }
                return topology
            }
            state.refreshing = task
            return task
        }
        return try await reading.value
    }

    /// `CLUSTER SHARDS` from the masters known, else from the seeds, whichever answers first in that order.
    private func readShards() async throws -> RedisClusterTopology {
        let known = state.withLock { state in state.topology.map { Set($0.shards.map(\.master)) } ?? [] }
        var failure: (any Error)?
        for address in Array(known) + seeds.map({ Address(host: $0.host, port: $0.port) }) {
            do {
                let reply = try await connection(to: address).send("CLUSTER", "SHARDS")
                let topology = try RedisClusterTopology(shards: reply, tls: seeds[0].tls != nil)
                if !topology.shards.isEmpty { return topology }
            } catch let error as RedisError where error.isRefusal {
                throw error
            } catch {
                failure = error
            }
        }
        throw failure ?? RedisError(description: "no node of \(self) named a shard")
    }

    // MARK: Connections

    /// The connection for commands to `address`, made when first needed, and forgotten when it closes.
    func connection(to address: Address) async throws -> RedisConnection {
        try await connection(address, .commands) { try await RedisConnection.connect(self.endpoint(address)) }
    }

    /// The subscriber connection to `address`, made when first needed; its loss unplaces its channels.
    func listener(at address: Address) async throws -> RedisConnection {
        try await connection(address, .listeners) {
            try await RedisConnection.connect(self.endpoint(address)) { [weak self] in self?.route($0, from: address) }
        }
    }

    /// The pool's connection to `address`, opened by `connect` when there is none; one opening serves every caller
    /// that asks while it runs.
    private func connection(
        _ address: Address, _ pool: Pool, connect: @escaping @Sendable () async throws -> RedisConnection
    ) async throws -> RedisConnection {
        let key = Dialing(pool: pool, address: address)
        let found = state.withLock { state -> Found in
            if let connection = state[pool][address] { return .open(connection) }
            if let dialing = state.dialing[key] { return .dialing(dialing) }
            let dialing = Task {
                defer { self.state.withLock { $0.dialing[key] = nil } }
                let connection = try await connect()
                let kept = self.state.withLock { state in
                    guard !state.closed else { return false }
                    state[pool][address] = connection
                    return true
                }
                guard kept else {
                    connection.closeNow()
                    throw RedisError(description: "the bus stopped")
                }
                connection.onClose { [weak self] in self?.lost(connection, at: address, from: pool) }
                return connection
            }
            state.dialing[key] = dialing
            return .dialing(dialing)
        }
        switch found {
        case .open(let connection): return connection
        case .dialing(let dialing): return try await dialing.value
        }
    }

    /// A connection closed: forgotten, and for a listener, its channels left to `run` to subscribe again.
    private func lost(_ connection: RedisConnection, at address: Address, from pool: Pool) {
        let dropped = state.withLock { state -> [String]? in
            guard state[pool][address] === connection else { return nil }
            state[pool][address] = nil
            guard pool == .listeners else { return [] }
            let dropped = state.placed.filter { $0.value == address }.map(\.key)
            for channel in dropped { state.placed[channel] = nil }
            return dropped
        }
        guard let dropped else { return }
        confirmations.release(dropped.map(RedisSlots.clustered))
        wake()
    }

    func close() async {
        let (connections, publishes) = state.withLock { state in
            defer { state = State(closed: true) }
            return (Array(state.commands.values) + Array(state.listeners.values), state.following)
        }
        for connection in connections { await connection.close() }
        confirmations.release()
        for publish in publishes { publish.then(.failure(RedisError(description: "the bus stopped"))) }
    }

    // MARK: Following the cluster

    /// Brings the subscriptions in line with the cluster whenever prompted, and every `refreshEvery`, until
    /// cancelled; a failed round is tried again with backoff.
    func run() async throws {
        wake()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.refreshEvery)
                    self.wake()
                }
            }
            group.addTask { await self.sendFollowing() }
            var pause = Duration.milliseconds(50)
            for await _ in wakes {
                do {
                    try await reconcile()
                    pause = .milliseconds(50)
                } catch let error as CancellationError {
                    throw error
                } catch {
                    logger.warning("cannot follow the Redis Cluster yet", metadata: ["error": "\(error)", "retry": "\(pause)"])
                    try await Task.sleep(for: pause)
                    // Short: asking a live node for the shards is cheap, and a failover is over as soon as they say
                    // so; a longer pause would only add to the time the shard's rooms wait.
                    pause = min(pause * 2, Self.retryAtMost)
                    wake()
                }
            }
            group.cancelAll()
        }
    }

    /// Reads the topology, subscribes each held channel on the master that serves its slot if it is not subscribed
    /// there, unsubscribes what nobody holds, and closes connections no longer needed. When it subscribed any channel
    /// again, messages may have been lost: every subscription is told `.resumed`.
    private func reconcile() async throws {
        let topology = try await refresh()
        let held = Set(subscribers.held)
        let masters = Set(topology.shards.map(\.master))
        let (missing, strays, idle) = state.withLock { state in
            var missing: [String] = []
            var strays: [Address: [String]] = [:]
            for channel in held where state.placing[channel] == nil {
                let master = topology.master(of: RedisSlots.slot(RedisSlots.clustered(channel)))
                guard let placedAt = state.placed[channel], placedAt == master, state.listeners[placedAt] != nil else {
                    if let placedAt = state.placed.removeValue(forKey: channel) { strays[placedAt, default: []].append(channel) }
                    missing.append(channel)
                    continue
                }
            }
            for (channel, placedAt) in state.placed where !held.contains(channel) && state.placing[channel] == nil {
                state.placed[channel] = nil
                strays[placedAt, default: []].append(channel)
            }
            let used = Set(state.placed.values)
            var idle: [RedisConnection] = []
            for (address, listener) in state.listeners where !used.contains(address) && strays[address] == nil {
                state.listeners[address] = nil
                idle.append(listener)
            }
            for (address, connection) in state.commands where !masters.contains(address) {
                state.commands[address] = nil
                idle.append(connection)
            }
            return (missing, strays, idle)
        }
        for (address, channels) in strays { await sunsubscribe(channels, at: address) }
        idle.forEach { $0.closeNow() }
        guard !missing.isEmpty else { return }
        let placed = await place(missing, on: topology)
        if !placed.isEmpty {
            logger.info("subscribed again on the Redis Cluster", metadata: ["channels": "\(placed.count)"])
            subscribers.resumed()
        }
        if placed.count < missing.count { throw RedisError(description: "\(missing.count - placed.count) channels wait for their master") }
    }
}
