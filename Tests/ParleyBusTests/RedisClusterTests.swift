import Foundation
import Logging
import NIOCore
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyBus

/// Redis Cluster's slots and shards, held against a real cluster of Debian's redis-server.
@Suite("Redis Cluster: slots and shards", .enabled(if: TestServers.redisServer.enabled, "needs redis-server: run scripts/test"))
struct RedisClusterTests {
    @Test("a name's slot is Redis's: its hash tag alone when it has one")
    func slots() {
        // Redis's own examples (cluster specification, "Hash tags").
        #expect(RedisSlots.slot("foo") == 12182 && RedisSlots.slot("123456789") == 12739)
        #expect(RedisSlots.slot("{user1000}.following") == RedisSlots.slot("{user1000}.followers"))
        #expect(RedisSlots.hashTag(of: "foo{}{bar}") == "foo{}{bar}")
        #expect(RedisSlots.hashTag(of: "foo{{bar}}zap") == "{bar")
        #expect(RedisSlots.hashTag(of: "foo{bar}{zap}") == "bar")
        #expect(RedisSlots.slot("parley:room:{r_1}") == RedisSlots.slot("parley:members:{r_1}"))
    }

    @Test("on a cluster, Parley's names carry their id as the hash tag, and read back")
    func names() {
        #expect(RedisSlots.clustered("parley:room:r_1") == "parley:room:{r_1}")
        #expect(RedisSlots.clustered("parley:throttle:login:ada@10.0.0.1") == "parley:throttle:{login:ada@10.0.0.1}")
        for name in ["parley:nodes", "parley:sessions", "parley:", "parley:room:", "parley:x:{y}", "plain"] {
            #expect(RedisSlots.clustered(name) == name)
        }
        for name in ["parley:room:r_1", "parley:user:u_2", "parley:node:ws-1~k3f9", "parley:sessions"] {
            #expect(RedisSlots.unclustered(RedisSlots.clustered(name)) == name)
        }
        // A room's channel and the keys kept for it share a slot; a node's heartbeat and its users' set too.
        #expect(RedisSlots.slot(RedisSlots.clustered("parley:room:r_1")) == RedisSlots.slot(RedisSlots.clustered("parley:members:r_1")))
        #expect(
            RedisSlots.slot(RedisSlots.clustered("parley:heartbeat:ws-1~a")) == RedisSlots.slot(RedisSlots.clustered("parley:node-users:ws-1~a")))
    }

    @Test("a confirmation resumes every subscribe waiting for its channel, one that came first included, and a release ends the wait")
    func confirmations() async throws {
        let confirmations = RedisConfirmations()
        confirmations.expect(["a"])
        confirmations.confirm("a")
        await confirmations.wait(for: ["a"])  // confirmed before it waited
        confirmations.expect(["b"])
        let first = Task { await confirmations.wait(for: ["b"]) }
        try await waitUntil("the first subscribe waits") { confirmations.waiting("b") == 1 }
        // Unsubscribed and subscribed again while the first still waits: both go with the next confirmation.
        confirmations.expect(["b"])
        let second = Task { await confirmations.wait(for: ["b"]) }
        try await waitUntil("the second subscribe waits") { confirmations.waiting("b") == 2 }
        confirmations.confirm("b")
        await first.value
        await second.value
        confirmations.expect(["c"])
        let released = Task { await confirmations.wait(for: ["c"]) }
        try await waitUntil("the third subscribe waits") { confirmations.waiting("c") == 1 }
        confirmations.release(["c"])
        await released.value
    }

    @Test("REDIS_CLUSTER names seeds; the first may be a URL whose user, password and TLS the others share")
    func seeds() throws {
        let seeds = try RedisEndpoint.cluster("rediss://parley:se%40cret@10.0.0.1:7000, 10.0.0.2:7001,redis-3:7002")
        #expect(seeds.map { "\($0.host):\($0.port)" } == ["10.0.0.1:7000", "10.0.0.2:7001", "redis-3:7002"])
        #expect(seeds.allSatisfy { $0.user == "parley" && $0.password == "se@cret" && $0.tls != nil })
        #expect(try RedisEndpoint.cluster("127.0.0.1:7000").first?.tls == nil)
        #expect(throws: RedisError.self) { try RedisEndpoint.cluster("") }
        #expect(throws: RedisError.self) { try RedisEndpoint.cluster("redis://h:1/2") }
        #expect(throws: RedisError.self) { try RedisEndpoint.cluster("h:1,redis://h:2") }
        #expect(throws: RedisError.self) { try RedisEndpoint.cluster("h:1,nonsense") }
    }

    @Test(
        "CLUSTER SHARDS maps every slot to one master, the one that takes a channel's SPUBLISH; another answers MOVED",
        .enabled(if: TestServers.redisCluster.enabled, "needs PARLEY_TEST_REDIS_CLUSTER: run scripts/test"))
    func shards() async throws {
        let seeds = try RedisEndpoint.cluster(try TestServers.redisCluster.require())
        let seed = try await RedisConnection.connect(seeds[0])
        defer { seed.closeNow() }
        let topology = try RedisClusterTopology(shards: try await seed.send("CLUSTER", "SHARDS"), tls: false)
        #expect(topology.shards.count == 3)
        #expect(topology.shards.flatMap(\.slots).map(\.count).reduce(0, +) == RedisSlots.count)
        #expect((0..<RedisSlots.count).allSatisfy { topology.shard(of: $0) != nil })

        // The slots agree with the cluster's own CLUSTER KEYSLOT.
        for name in ["parley:room:{r_1}", "parley:user:{u_2}", "parley:node:{ws-1~abc}", "plain", "é{ü}"] {
            let answer = try await seed.send("CLUSTER", "KEYSLOT", name)
            #expect(answer.integer.map(Int.init) == RedisSlots.slot(name), "\(name)")
        }

        let channel = "parley:room:{r_1}"
        let owner = try #require(topology.shard(of: RedisSlots.slot(channel)))
        let master = try await RedisConnection.connect(try RedisEndpoint(url: "redis://\(owner.master.host):\(owner.master.port)"))
        defer { master.closeNow() }
        #expect(try await master.send("SPUBLISH", channel, "hello").integer == 0)
        let other = try #require(topology.shards.first { $0 != owner })
        let elsewhere = try await RedisConnection.connect(try RedisEndpoint(url: "redis://\(other.master.host):\(other.master.port)"))
        defer { elsewhere.closeNow() }
        let moved = await #expect(throws: RedisError.self) { try await elsewhere.send("SPUBLISH", channel, "hello") }
        #expect(moved?.description.hasPrefix("MOVED \(RedisSlots.slot(channel)) ") == true, "\(String(describing: moved))")
    }
}
