import Foundation
import NIOCore

public struct RelayResult: Sendable, Codable {
    /// The saturation rate the fractions are of, in frames per second, and where it came from.
    public let reference: Double
    public let referenceSource: String
    /// `message` or `signal`, with the fraction of the reference, and the step at that rate.
    public let runs: [Run]

    public struct Run: Sendable, Codable {
        /// `parley` or the peer's name.
        public let system: String
        public let kind: String
        public let fraction: Double
        public let step: Step
    }
}

/// 1:1 traffic across nodes: pairs of users, the first of each on WS node 1 and the second on WS node 2. Messages
/// go through each pair's room; signals go from attendee to attendee of each pair's meeting. Both run at 10%, 50%
/// and 80% of the fan-out saturation rate, on Parley and then on the socket.io peer, at the same rates.
struct Relay {
    static let fractions = [0.1, 0.5, 0.8]

    typealias FrameBuilder = @Sendable (_ pair: Int, _ n: Int, _ intended: UInt64) -> String

    /// One system's pairs, ready to load.
    struct Pairs {
        let runner: StepRunner
        let message: FrameBuilder
        let signal: FrameBuilder
    }

    let cluster: BenchCluster
    let pairs: Int
    let duration: Duration
    let group: any EventLoopGroup

    /// `reference`: the rate the load is a fraction of, and where it comes from (the fan-out saturation measured in
    /// the same run, or a rate given); without one, this finds Parley's 1:1 message saturation rate first.
    func run(reference given: (rate: Double, source: String)?, peer: PeerSetup?) async throws -> RelayResult {
        let parley = try await parleyPairs()
        var reference = given?.rate ?? 0
        var source = given?.source ?? ""
        if given == nil {
            say("  finding the 1:1 message saturation rate (p99 under \(Int(Fanout.p99Limit)) ms)")
            reference = await parley.runner.saturate(from: 500, p99: Fanout.p99Limit, frame: parley.message).best?.perSecond ?? 0
            source = "Parley's 1:1 message saturation in this run"
            guard reference > 0 else { throw BenchError("no rate held p99 under \(Fanout.p99Limit) ms") }
        }
        var runs = await load(parley, system: "parley", reference: reference)
        await parley.runner.closeAll()
        if let peer {
            let servers = try SocketIOPeer(peer, cluster: cluster)
            defer { servers.stop() }
            let pairs = try await peerPairs(servers)
            runs += await load(pairs, system: SocketIOPeer.name, reference: reference)
            await pairs.runner.closeAll()
        }
        return RelayResult(reference: reference, referenceSource: source, runs: runs)
    }

    private func load(_ pairs: Pairs, system: String, reference: Double) async -> [RelayResult.Run] {
        var runs: [RelayResult.Run] = []
        for (kind, frame) in [("message", pairs.message), ("signal", pairs.signal)] {
            for fraction in Self.fractions {
                say("  \(system): \(kind)s at \(Int(fraction * 100))% of \(Int(reference))/s")
                let step = await pairs.runner.run(rate: reference * fraction, frame: frame)
                runs.append(.init(system: system, kind: kind, fraction: fraction, step: step))
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return runs
    }

    private func parleyPairs() async throws -> Pairs {
        let ws = cluster.nodes(role: "ws")
        guard ws.count >= 2 else { throw BenchError("relay needs two WS nodes (scripts/cluster up --ws 2)") }
        let users = try await BenchUsers.signUp(pairs * 2, url: cluster.url, label: "relay")
        let tokens = users.tokens
        let latencies = Latencies()
        let senders = try await connectPeers(
            pairs, port: ws[0].port, tokens: { tokens[$0] }, group: group, latencies: Latencies(), label: "senders on \(ws[0].name)")
        let receivers = try await connectPeers(
            pairs, port: ws[1].port, tokens: { tokens[pairs + $0] }, group: group, latencies: latencies, label: "receivers on \(ws[1].name)")
        var rooms: [String] = []
        var meetings: [String] = []
        let setup = Progress("rooms and meetings", total: pairs)
        for pair in 0..<pairs {
            let room = try await users.room(owner: pair, members: [pairs + pair], name: "Pair \(pair)")
            try await receivers[pair].subscribe(room)
            let meeting = try decode(try await senders[pair].request("{\"type\":\"meeting.start\",\"room\":\"\(room)\"}"), "meeting", "id")
            for peer in [senders[pair], receivers[pair]] { try await peer.request("{\"type\":\"meeting.join\",\"meeting\":\"\(meeting)\"}") }
            rooms.append(room)
            meetings.append(meeting)
            setup.advance()
        }
        setup.finish()
        let targets = receivers.map { $0.conn ?? "" }
        let ids = ClientIds()
        return Pairs(
            runner: StepRunner(senders: senders, receivers: receivers, latencies: latencies, meter: cluster.meter, duration: duration, fanout: 1),
            message: { [rooms] pair, _, intended in
                "{\"type\":\"send\",\"room\":\"\(rooms[pair])\",\"clientId\":\"\(ids.next())\",\"text\":\"\(Stamp.text(intended))\"}"
            },
            signal: { [meetings] pair, _, intended in
                "{\"type\":\"signal\",\"meeting\":\"\(meetings[pair])\",\"to\":\"\(targets[pair])\",\"kind\":\"candidate\","
                    + "\"payload\":{\"candidate\":\"\(Stamp.text(intended))\"}}"
            })
    }

    /// The same pairs on the socket.io peer: a room per pair for messages, and the receiver's `sid` for signals.
    private func peerPairs(_ servers: SocketIOPeer) async throws -> Pairs {
        let latencies = Latencies()
        let senders = try await connectPeers(
            pairs, port: servers.servers[0].port, tokens: { _ in nil }, group: group, latencies: Latencies(), label: "senders on instance 1",
            dialect: .socketIO)
        let receivers = try await connectPeers(
            pairs, port: servers.servers[1].port, tokens: { _ in nil }, group: group, latencies: latencies, label: "receivers on instance 2",
            dialect: .socketIO)
        for (pair, receiver) in receivers.enumerated() { try await receiver.subscribe("pair-\(pair)") }
        let targets = receivers.map { $0.conn ?? "" }
        return Pairs(
            runner: StepRunner(senders: senders, receivers: receivers, latencies: latencies, meter: servers.meter, duration: duration, fanout: 1),
            message: { pair, n, intended in "42\(n + 1)[\"send\",{\"room\":\"pair-\(pair)\",\"text\":\"\(Stamp.text(intended))\"}]" },
            signal: { pair, _, intended in "42[\"signal\",{\"to\":\"\(targets[pair])\",\"payload\":\"\(Stamp.text(intended))\"}]" })
    }
}

/// A string inside a JSON reply, by its path.
func decode(_ reply: String, _ path: String...) throws -> String {
    var value: Any? = try JSONSerialization.jsonObject(with: Data(reply.utf8))
    for key in path { value = (value as? [String: Any])?[key] }
    guard let text = value as? String else { throw BenchError("no \(path.joined(separator: ".")) in \(reply.prefix(200))") }
    return text
}
