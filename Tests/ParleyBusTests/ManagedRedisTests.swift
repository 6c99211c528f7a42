import Foundation
import Logging
import NIOCore
import ParleyTestSupport
import Testing

@testable import ParleyBus

/// The Redis a deployment is given: a URL with an ACL user, a password and a database, or TLS with a private CA and
/// a client certificate. What works runs the bus; what is refused stops the node at start, saying what.
@Suite("Managed Redis: ACL users, passwords and TLS", .enabled(if: TestServers.redisServer.enabled, "needs redis-server: run scripts/test"))
struct ManagedRedisTests {
    /// The README's `ACL SETUSER` line for Parley's user, as redis-server's `--user` takes it.
    static func parleyUser(password: String = "correct-horse", without command: String? = nil) -> [String] {
        let commands = ["ping", "select", "publish", "subscribe", "unsubscribe", "get", "set", "del", "exists", "incr", "pttl", "sadd", "srem", "smembers"]
        return ["--user", "parley", "on", ">\(password)", "resetkeys", "~parley:*", "resetchannels", "&parley:*", "-@all"]
            + commands.filter { $0 != command }.map { "+\($0)" }
    }

    /// The commands of the README's `ACL SETUSER` line for a Redis Cluster.
    static let clusterCommands = [
        "ping", "asking", "cluster|shards", "spublish", "ssubscribe", "sunsubscribe", "get", "set", "del", "exists", "incr", "pttl", "sadd",
        "srem", "smembers",
    ]

    static let logger = Logger(label: "test")

    @Test("URLs: a user, a password, a database, TLS; and what is not one")
    func urls() throws {
        let full = try RedisEndpoint(url: "rediss://parley:p%40ss%3Aword@redis.example:6380/3", tls: .init(caFile: "/ca.pem"))
        #expect(full.host == "redis.example" && full.port == 6380 && full.user == "parley" && full.password == "p@ss:word" && full.database == 3)
        #expect(full.tls?.caFile == "/ca.pem" && full.description == "rediss://parley@redis.example:6380/3")
        let password = try RedisEndpoint(url: "redis://:secret@127.0.0.1")
        #expect(password.user == nil && password.password == "secret" && password.port == 6379 && password.database == 0 && password.tls == nil)
        for bad in ["http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:6379/16", "redis://127.0.0.1/db"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisEndpoint(url: bad) }
        }
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "redis://127.0.0.1", tls: .init(caFile: "/ca.pem")) }
        #expect(throws: RedisError.self) { try RedisEndpoint(url: "rediss://127.0.0.1", tls: .init(certificateFile: "/c.pem")) }
    }

    @Test("an ACL user with the documented permissions, a password and a database runs the bus")
    func aclUser() async throws {
        let server = try RedisServer(arguments: Self.parleyUser())
        defer { server.stop() }
        try await server.start()
        let bus = RedisBus(endpoint: try RedisEndpoint(url: "redis://parley:correct-horse@127.0.0.1:\(server.port)/2"), logger: Self.logger)
        try await bus.verify(patience: .seconds(5))
        try await Self.roundTrip(bus)
    }

    @Test("a wrong password stops it at once, saying so")
    func wrongPassword() async throws {
        let server = try RedisServer(arguments: Self.parleyUser())
        defer { server.stop() }
        try await server.start()
        let bus = RedisBus(endpoint: try RedisEndpoint(url: "redis://parley:wrong-horse@127.0.0.1:\(server.port)"), logger: Self.logger)
        let error = try await #require(throws: RedisError.self) { try await bus.verify(patience: .seconds(5)) }
        #expect(error.isRefusal && error.description.contains("refused to sign in") && error.description.contains("WRONGPASS"), "\(error)")
        #expect(!error.description.contains("wrong-horse"))
    }

    @Test("a permission the ACL user lacks stops it at once, naming the command")
    func missingPermission() async throws {
        let server = try RedisServer(arguments: Self.parleyUser(without: "publish"))
        defer { server.stop() }
        try await server.start()
        let bus = RedisBus(endpoint: try RedisEndpoint(url: "redis://parley:correct-horse@127.0.0.1:\(server.port)"), logger: Self.logger)
        let error = try await #require(throws: RedisError.self) { try await bus.verify(patience: .seconds(5)) }
        #expect(error.isRefusal && error.description.contains("refused PUBLISH") && error.description.contains("ACL SETUSER"), "\(error)")
    }

    @Test(
        "on a Redis Cluster, the README's ACL user runs the bus; one without SPUBLISH is refused, naming it",
        .enabled(if: TestServers.redisCluster.enabled, "needs PARLEY_TEST_REDIS_CLUSTER: run scripts/test"))
    func clusterACLUser() async throws {
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).appendingPathComponent("../../../README.md").standardized, encoding: .utf8)
        #expect(readme.contains("-@all " + Self.clusterCommands.map { "+\($0)" }.joined(separator: " ") + "\n"))
        let seeds = try TestServers.redisCluster.require()
        let user = "parley-\(UUID().uuidString.prefix(8).lowercased())"
        // ACL users are each node's own: every node of the cluster gets them.
        for port in seeds.split(separator: ",").compactMap({ $0.split(separator: ":").last.map(String.init) }) {
            for (name, commands) in [(user, Self.clusterCommands), (user + "-mute", Self.clusterCommands.filter { $0 != "spublish" })] {
                let made = try RedisClusterServer.cli(
                    ["-p", port, "ACL", "SETUSER", name, "on", ">correct-horse", "resetkeys", "~parley:*", "resetchannels", "&parley:*", "-@all"]
                        + commands.map { "+\($0)" })
                #expect(made.output.contains("OK"), "\(made.output)")
            }
        }
        let bus = RedisBus(cluster: try RedisEndpoint.cluster("redis://\(user):correct-horse@\(seeds)"), logger: Self.logger)
        try await bus.verify(patience: .seconds(5))
        try await Self.roundTrip(bus)
        let mute = RedisBus(cluster: try RedisEndpoint.cluster("redis://\(user)-mute:correct-horse@\(seeds)"), logger: Self.logger)
        let error = try await #require(throws: RedisError.self) { try await mute.verify(patience: .seconds(5)) }
        #expect(error.isRefusal && error.description.contains("refused SPUBLISH") && error.description.contains("ACL SETUSER"), "\(error)")
    }

    @Test("TLS with a private CA runs the bus; a server the CA did not sign, or one asking for a certificate not given, is refused")
    func tls() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try RedisServer(arguments: Self.parleyUser(), tls: certificates)
        defer { server.stop() }
        try await server.start()
        let url = "rediss://parley:correct-horse@127.0.0.1:\(server.port)"
        let trusted = RedisBus(endpoint: try RedisEndpoint(url: url, tls: .init(caFile: certificates.ca.path)), logger: Self.logger)
        try await trusted.verify(patience: .seconds(5))
        try await Self.roundTrip(trusted)

        let untrusted = RedisBus(endpoint: try RedisEndpoint(url: url, tls: .init(caFile: certificates.otherCA.path)), logger: Self.logger)
        let error = try await #require(throws: RedisError.self) { try await untrusted.verify(patience: .seconds(5)) }
        #expect(error.isRefusal && error.description.contains("TLS with rediss://parley@127.0.0.1"), "\(error)")

        // A Redis that asks every client for a certificate takes one the CA signed, and no client without one.
        let strict = try RedisServer(arguments: Self.parleyUser() + ["--tls-auth-clients", "yes"], tls: certificates)
        defer { strict.stop() }
        try await strict.start()
        let strictURL = "rediss://parley:correct-horse@127.0.0.1:\(strict.port)"
        let withCertificate = RedisEndpoint.TLS(
            caFile: certificates.ca.path, certificateFile: certificates.clientCertificate.path, keyFile: certificates.clientKey.path)
        try await RedisBus(endpoint: try RedisEndpoint(url: strictURL, tls: withCertificate), logger: Self.logger).verify(patience: .seconds(5))
        let without = RedisBus(endpoint: try RedisEndpoint(url: strictURL, tls: .init(caFile: certificates.ca.path)), logger: Self.logger)
        #expect(try await #require(throws: RedisError.self) { try await without.verify(patience: .seconds(5)) }.isRefusal)
    }

    @Test("a node given a wrong password exits at start, saying why")
    func nodeStops() async throws {
        let server = try RedisServer(arguments: Self.parleyUser())
        defer { server.stop() }
        try await server.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("node-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let node = try NodeProcess(
            environment: ["REDIS_URL": "redis://parley:wrong-horse@127.0.0.1:\(server.port)", "PARLEY_SQLITE_PATH": directory.appendingPathComponent("p.sqlite").path],
            directory: directory)
        #expect(try await node.exitStatus(within: 30) != 0)
        #expect(node.output.contains("refused to sign in") && node.output.contains("WRONGPASS"), "\(node.output)")
    }

    /// A message published on the bus reaches a subscription of the same bus.
    static func roundTrip(_ bus: RedisBus) async throws {
        try await withRunning(bus) { bus in
            try await publishWhenReady(bus, "warm-up", to: "parley:room:none")
            try await bus.withSubscription { subscription in
                try await subscription.subscribe(["parley:room:managed"])
                try await bus.publish(ByteBuffer(string: "hello"), to: "parley:room:managed")
                #expect(await Deliveries(subscription).nextMessages(1) == ["managed=hello"])
            }
        }
    }
}
