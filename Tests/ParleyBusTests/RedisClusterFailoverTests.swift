import Foundation
import Logging
import NIOCore
import ParleyTestSupport
import Synchronization
import Testing

@testable import ParleyBus

/// The bus on a Redis Cluster of its own that changes under it: a master killed, a slot moved. Each time the bus
/// subscribes again where the channel's slot went, tells `.resumed`, and delivers again on the same subscription.
/// One cluster at a time: six redis-servers each, beside the rest of the tests on the same cores.
@Suite(
    "Redis Cluster bus across a failover and a moved slot", .serialized,
    .enabled(if: TestServers.redisServer.enabled, "needs redis-server: run scripts/test"))
struct RedisClusterFailoverTests {
    @Test("a master killed: its replica takes over, and the bus subscribes there, says .resumed and delivers again")
    func failover() async throws {
        try await withSubscribed(to: "parley:room:\(UUID().uuidString)") { cluster, channel in
            await (try await Self.master(of: channel, in: cluster)).kill()
        }
    }

    @Test("a slot moved to another master: the old one takes the channel away, and the bus subscribes on the new one")
    func movedSlot() async throws {
        try await withSubscribed(to: "parley:user:\(UUID().uuidString)") { cluster, channel in
            let slot = RedisSlots.slot(RedisSlots.clustered(channel))
            let source = try await Self.master(of: channel, in: cluster)
            let target = try #require(try await Self.masters(in: cluster).first { $0 !== source })
            let (from, to) = (try Self.id(of: source), try Self.id(of: target))
            for (server, arguments) in [
                (target, ["cluster", "setslot", "\(slot)", "importing", from]), (source, ["cluster", "setslot", "\(slot)", "migrating", to]),
                (source, ["cluster", "setslot", "\(slot)", "node", to]), (target, ["cluster", "setslot", "\(slot)", "node", to]),
            ] {
                let answer = try RedisClusterServer.cli(["-p", "\(server.port)"] + arguments)
                #expect(answer.status == 0 && answer.output.contains("OK"), "\(arguments): \(answer.output)")
            }
        }
    }

    /// A bus on a cluster of its own, subscribed to `channel` and receiving, to which `change` happens; then the
    /// subscription must be told `.resumed`, and a publish must be delivered again. A subscription placed on a master
    /// that had not heard of the change yet is placed again, with `.resumed` again: what was published in between
    /// is the store's to catch up, so publishes go on until one is delivered.
    private func withSubscribed(
        to channel: String, _ change: (RedisClusterServer, String) async throws -> Void
    ) async throws {
        let cluster = try RedisClusterServer()
        defer { cluster.stop() }
        try await cluster.start()
        try await withRunning(RedisBus(cluster: try RedisEndpoint.cluster(cluster.seeds), logger: Logger(label: "test"))) { bus in
            try await publishWhenReady(bus, "warm-up", to: channel)
            let received = Mutex<[BusDelivery]>([])
            try await bus.withSubscription(receive: { delivery in received.withLock { $0.append(delivery) } }) { subscription in
                try await subscription.subscribe([channel])
                try await bus.publish(ByteBuffer(string: "before"), to: channel)
                try await waitUntil("the first publish is delivered") { received.withLock { $0.count } == 1 }
                try await change(cluster, channel)
                try await waitUntil("the subscription is told .resumed", within: .seconds(30)) { received.withLock { $0.contains(.resumed) } }
                var sent = 0
                try await waitUntil("a publish is delivered again", within: .seconds(30)) {
                    sent += 1
                    _ = try? await bus.publish(ByteBuffer(string: "after \(sent)"), to: channel)
                    try await Task.sleep(for: .milliseconds(200))
                    return received.withLock { deliveries in
                        deliveries.contains { if case .message(let message) = $0 { String(buffer: message.payload).hasPrefix("after ") } else { false } }
                    }
                }
            }
        }
    }

    /// The servers that are masters now.
    static func masters(in cluster: RedisClusterServer) async throws -> [RedisServer] {
        cluster.servers.filter { server in (try? RedisClusterServer.cli(["-p", "\(server.port)", "role"]))?.output.hasPrefix("master") == true }
    }

    /// The master that serves a channel's slot: every other node answers MOVED for a key of that slot.
    static func master(of channel: String, in cluster: RedisClusterServer) async throws -> RedisServer {
        for server in try await masters(in: cluster) {
            let connection = try await RedisConnection.connect(try RedisEndpoint(url: "redis://127.0.0.1:\(server.port)"))
            defer { connection.closeNow() }
            if (try? await connection.send("EXISTS", RedisSlots.clustered(channel))) != nil { return server }
        }
        throw RedisError(description: "no master takes \(channel)")
    }

    static func id(of server: RedisServer) throws -> String {
        try RedisClusterServer.cli(["-p", "\(server.port)", "cluster", "myid"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
