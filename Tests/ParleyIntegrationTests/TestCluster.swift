import Foundation
import Logging
import ParleyStore
import ParleyTestSupport
import Testing

/// A cluster on loopback, as `scripts/cluster` will run one: a database of its own in the test Postgres, a
/// redis-server of its own, and parley nodes as child processes, each with a role.
final class TestCluster: @unchecked Sendable {
    // @unchecked: `nodes` changes only through `start`, `kill` and `restart`, which a test calls in sequence.
    /// Whether the cluster tests run: they need the test Postgres and redis-server (see `TestServers`).
    static var enabled: Bool { TestServers.postgres.enabled && TestServers.redisServer.enabled }

    let redis: RedisServer
    let databaseURL: String
    let directory: URL
    /// Extra environment for every node, such as a short ring timeout.
    let settings: [String: String]
    private(set) var nodes: [String: NodeProcess] = [:]
    private var roles: [String: String] = [:]

    private init(redis: RedisServer, databaseURL: String, directory: URL, settings: [String: String]) {
        self.redis = redis
        self.databaseURL = databaseURL
        self.directory = directory
        self.settings = settings
    }

    /// A migrated database, Redis, and nodes `api-1…` and `ws-1…`.
    static func start(api: Int = 1, ws: Int = 2, settings: [String: String] = [:]) async throws -> TestCluster {
        let base = try TestServers.postgres.require()
        let name = "c_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try PostgresDriver(url: base, maximumConnections: 1, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await admin.run() }
            defer { group.cancelAll() }
            try await admin.withExecutor { try await $0.execute("CREATE DATABASE \(name)") }
        }
        let databaseURL = base.replacingOccurrences(of: "/parley_test", with: "/\(name)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let redis = try RedisServer()
        try await redis.start()
        let cluster = TestCluster(redis: redis, databaseURL: databaseURL, directory: directory, settings: settings)

        let migrate = try NodeProcess(environment: cluster.environment, directory: directory, arguments: ["migrate"])
        #expect(try await migrate.exitStatus(within: 60) == 0, "migrate:\n\(migrate.output)")
        for n in 1...max(api, 1) where api > 0 { try await cluster.start("api-\(n)", role: "api") }
        for n in 1...max(ws, 1) where ws > 0 { try await cluster.start("ws-\(n)", role: "ws") }
        return cluster
    }

    var environment: [String: String] {
        [
            "DATABASE_URL": databaseURL, "REDIS_URL": redis.url, "PARLEY_JWT_SECRET": "cluster-signing-key-of-at-least-32-bytes",
            // Traffic as fast as a test sends it: the throttles are tested on their own (ClusterSecurityTests).
            "PARLEY_MIGRATE": "0", "PARLEY_RATE_LIMIT": "1000", "PARLEY_SEND_LIMIT": "100000",
        ].merging(settings) { _, setting in setting }
    }

    func start(_ name: String, role: String) async throws {
        var environment = environment
        environment["PARLEY_ROLE"] = role
        environment["PARLEY_NODE_ID"] = name
        let node = try NodeProcess(environment: environment, directory: directory)
        _ = try await node.listening()
        nodes[name] = node
        roles[name] = role
    }

    /// SIGKILL, as a crash would.
    func kill(_ name: String) async { await nodes[name]?.kill() }

    func restart(_ name: String) async throws {
        await kill(name)
        try await start(name, role: roles[name]!)
    }

    func http(_ name: String) -> String { "http://127.0.0.1:\(nodes[name]!.port)" }
    func ws(_ name: String) -> String { "ws://127.0.0.1:\(nodes[name]!.port)/ws" }

    /// Stops every node gracefully, and Redis.
    func stop() async {
        for node in nodes.values { _ = try? await node.terminate() }
        await redis.kill()
        redis.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` on a new cluster and stops it afterwards, also when `body` throws.
    static func with<R: Sendable>(
        api: Int = 1, ws: Int = 2, settings: [String: String] = [:], _ body: (TestCluster) async throws -> R
    ) async throws -> R {
        let cluster = try await start(api: api, ws: ws, settings: settings)
        do {
            let result = try await body(cluster)
            await cluster.stop()
            return result
        } catch {
            for (name, node) in cluster.nodes { print("--- \(name)\n\(node.output.suffix(3000))") }
            await cluster.stop()
            throw error
        }
    }
}
