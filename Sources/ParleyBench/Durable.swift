import Foundation
import NIOCore

public struct DurableResult: Sendable, Codable {
    /// The fastest rate whose acknowledgements held p99 within the limit, and the fastest acknowledged in full.
    public let best: Step?
    public let fastest: Step?
    public let steps: [Step]
}

/// Durable sends: connections on one WS node each send into their own room, and every send is timed until its
/// acknowledgement, which the server gives after the commit (Postgres with `fsync` on). The rate rises until p99
/// passes 10 ms.
struct Durable {
    static let p99Limit = 10.0

    let cluster: BenchCluster
    let senders: Int
    let duration: Duration
    let group: any EventLoopGroup

    func run() async throws -> DurableResult {
        guard let node = cluster.nodes(role: "ws").first else { throw BenchError("durable needs a WS node") }
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
        let runner = StepRunner(senders: peers, receivers: peers, latencies: acks, meter: cluster.meter, duration: duration, fanout: 1)
        let (best, steps) = await runner.saturate(from: 250, p99: Self.p99Limit) { [rooms] peer, n, intended in
            "{\"id\":\"d\(n)\",\"type\":\"send\",\"room\":\"\(rooms[peer])\",\"clientId\":\"\(ids.next())\",\"text\":\"\(Stamp.text(intended))\"}"
        }
        let fastest = steps.filter(\.complete).max { $0.perSecond < $1.perSecond }
        return DurableResult(best: best, fastest: fastest, steps: steps)
    }
}
