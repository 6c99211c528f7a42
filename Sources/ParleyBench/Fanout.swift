import Foundation
import NIOCore

/// The fastest rate one room size held with p99 under the limit, in one mode.
public struct FanoutResult: Sendable, Codable {
    public let mode: String
    public let roomSize: Int
    public let best: Step?
    public let steps: [Step]
}

/// Fan-out across nodes: the senders on WS node 1, the room's members on WS node 2, so that every message crosses
/// Redis; room sizes 10, 100 and 1000. For each size the rate rises until p99 passes 50 ms. The `bare` mode runs
/// the same load against a bare Hummingbird WebSocket broadcast (no bus, no auth, no JSON): the floor.
struct Fanout {
    static let p99Limit = 50.0

    /// Nil for the bare floor, which runs without a cluster.
    let cluster: BenchCluster?
    let sizes: [Int]
    let senderCount: Int
    let duration: Duration
    let group: any EventLoopGroup

    /// Each room size gets connections of its own, so that one whose last, overloaded step had sockets cut off as
    /// slow consumers leaves nothing behind for the next.
    func parley() async throws -> [FanoutResult] {
        guard let cluster else { throw BenchError("fanout needs a cluster") }
        let ws = cluster.nodes(role: "ws")
        guard ws.count >= 2 else { throw BenchError("fanout needs two WS nodes (scripts/cluster up --ws 2)") }
        let largest = sizes.max() ?? 0
        let users = try await BenchUsers.signUp(largest + 1, url: cluster.url, label: "fanout")
        let sender = largest
        let tokens = users.tokens
        let deliveries = Latencies()
        let ids = ClientIds()
        var results: [FanoutResult] = []
        for size in sizes {
            say("  room of \(size), \(senderCount) senders on \(ws[0].name), members on \(ws[1].name)")
            let room = try await users.room(owner: sender, members: Array(0..<size), name: "Fanout \(size)")
            let senders = try await connectPeers(
                senderCount, port: ws[0].port, tokens: { _ in tokens[sender] }, group: group, latencies: Latencies(),
                label: "senders on \(ws[0].name)")
            let receivers = try await connectPeers(
                size, port: ws[1].port, tokens: { tokens[$0] }, group: group, latencies: deliveries, label: "members on \(ws[1].name)")
            for receiver in receivers { try await receiver.subscribe(room) }
            results.append(
                await saturate(
                    "parley", size: size, senders: senders, receivers: receivers, latencies: deliveries, meter: cluster.meter
                ) { _, _, intended in
                    "{\"type\":\"send\",\"room\":\"\(room)\",\"clientId\":\"\(ids.next())\",\"text\":\"\(Stamp.text(intended))\"}"
                })
            for peer in senders + receivers { await peer.close() }
        }
        return results
    }

    /// The same load shape on the socket.io peer: the senders on instance 1, the room's members on instance 2.
    func peer(_ setup: PeerSetup) async throws -> [FanoutResult] {
        guard let cluster else { throw BenchError("the peer runs on the cluster's Redis") }
        let peer = try SocketIOPeer(setup, cluster: cluster)
        defer { peer.stop() }
        let (first, second) = (peer.servers[0].port, peer.servers[1].port)
        let deliveries = Latencies()
        var results: [FanoutResult] = []
        for size in sizes {
            say("  \(SocketIOPeer.name) peer, room of \(size), \(senderCount) senders on instance 1, members on instance 2")
            let room = "fanout-\(size)"
            let senders = try await connectPeers(
                senderCount, port: first, tokens: { _ in nil }, group: group, latencies: Latencies(), label: "senders on instance 1",
                dialect: .socketIO)
            let receivers = try await connectPeers(
                size, port: second, tokens: { _ in nil }, group: group, latencies: deliveries, label: "members on instance 2",
                dialect: .socketIO)
            for receiver in receivers { try await receiver.subscribe(room) }
            results.append(
                await saturate(
                    SocketIOPeer.name, size: size, senders: senders, receivers: receivers, latencies: deliveries, meter: peer.meter
                ) { _, n, intended in
                    "42\(n + 1)[\"send\",{\"room\":\"\(room)\",\"text\":\"\(Stamp.text(intended))\"}]"
                })
            for socket in senders + receivers { await socket.close() }
        }
        return results
    }

    /// The same load shape on a bare broadcast server, run as a child process so that its CPU is its own. One sender
    /// is enough: the bare server acknowledges nothing.
    func bare(executable: String) async throws -> [FanoutResult] {
        let server = try ServerProcess(executable: executable) { ["bare-server", "--port", "\($0)"] }
        defer { server.stop() }
        var results: [FanoutResult] = []
        for size in sizes {
            say("  bare broadcast, room of \(size)")
            let deliveries = Latencies()
            let receivers = try await connectPeers(
                size, port: server.port, tokens: { _ in nil }, group: group, latencies: deliveries, label: "listeners", path: "/")
            let sender = try await BenchPeer.connect(
                port: server.port, token: nil, localAddress: "127.0.0.1", group: group, latencies: Latencies(), path: "/")
            results.append(
                await saturate(
                    "bare", size: size, senders: [sender], receivers: receivers, latencies: deliveries,
                    meter: ProcessMeter(pids: [server.pid])
                ) { _, _, intended in "\"\(Stamp.text(intended))\"" })
            for peer in receivers + [sender] { await peer.close() }
        }
        return results
    }

    /// Raises the rate at one room size, from about 1000 deliveries a second, until p99 passes the limit.
    private func saturate(
        _ mode: String, size: Int, senders: [BenchPeer], receivers: [BenchPeer], latencies: Latencies, meter: ProcessMeter,
        frame: @escaping @Sendable (_ peer: Int, _ n: Int, _ intended: UInt64) -> String
    ) async -> FanoutResult {
        let runner = StepRunner(senders: senders, receivers: receivers, latencies: latencies, meter: meter, duration: duration, fanout: size)
        let (best, steps) = await runner.saturate(from: max(1, 1000 / Double(size)), p99: Self.p99Limit, frame: frame)
        return FanoutResult(mode: mode, roomSize: size, best: best, steps: steps)
    }
}
