import Foundation
import NIOCore

public struct DurableResult: Sendable, Codable {
    /// The fastest rate whose acknowledgements held p99 within `p99Limit`, and the fastest within `throughputLimit`.
    public let best: Step?
    public let fastest: Step?
    public let steps: [Step]
    /// The disk under Postgres, probed before the steps: `fdatasync` of one page every 4 ms.
    public let disk: DiskLatency
}

/// Percentiles of the disk probe, in milliseconds.
public struct DiskLatency: Sendable, Codable {
    public let count: UInt64
    public let p50: Double
    public let p99: Double
    public let p999: Double
    public let max: Double
}

/// Durable sends: connections on one WS node each send into their own room, and every send is timed until its
/// acknowledgement, which the server gives after the commit (Postgres with `fsync` on). The rate rises until p99
/// passes 10 ms.
struct Durable {
    static let p99Limit = 10.0
    /// The steps go on until p99 passes this, to find the throughput where the disk's flush tail alone (see
    /// `DiskProbe`) already passes `p99Limit`.
    static let throughputLimit = 100.0

    let cluster: BenchCluster
    let senders: Int
    let duration: Duration
    let group: any EventLoopGroup

    func run() async throws -> DurableResult {
        guard let node = cluster.nodes(role: "ws").first else { throw BenchError("durable needs a WS node") }
        say("  probing the disk under Postgres: 1000 fdatasyncs of 8 KiB, one every 4 ms")
        let probe = try await DiskProbe(folder: "\(cluster.folder)/postgres").run()
        let disk = DiskLatency(
            count: probe.count, p50: probe.milliseconds(at: 50), p99: probe.milliseconds(at: 99), p999: probe.milliseconds(at: 99.9),
            max: probe.maxMilliseconds)
        let users = try await BenchUsers.signUp(senders + 1, url: cluster.url, label: "durable")
        let tokens = users.tokens
        let acks = Latencies()
        let peers = try await connectPeers(
            senders, port: node.port, tokens: { tokens[$0] }, group: group, latencies: acks, label: "senders on \(node.name)")
        defer { Task { for peer in peers { await peer.close() } } }
        var rooms: [String] = []
        for sender in 0..<senders {
            rooms.append(try await users.room(owner: sender, members: [senders], name: "Durable \(sender)"))
        }
        let ids = ClientIds()
        let runner = StepRunner(
            senders: peers, receivers: peers, latencies: acks, meter: cluster.meter, duration: duration, fanout: 1, others: cluster.others)
        let (best, steps) = await runner.saturate(from: 250, p99: Self.p99Limit, stopAbove: Self.throughputLimit) { [rooms] peer, n, intended in
            "{\"id\":\"d\(n)\",\"type\":\"send\",\"room\":\"\(rooms[peer])\",\"clientId\":\"\(ids.next())\",\"text\":\"\(Stamp.text(intended))\"}"
        }
        let fastest = steps.filter { $0.meets(p99: Self.throughputLimit) }.max { $0.perSecond < $1.perSecond }
        return DurableResult(best: best, fastest: fastest, steps: steps, disk: disk)
    }
}
