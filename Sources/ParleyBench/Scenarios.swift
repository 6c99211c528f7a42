import NIOPosix

/// The scenarios `parley-bench` runs, on the generator's event loops (one per core).
public enum Scenarios {
    static var group: MultiThreadedEventLoopGroup { .singleton }

    /// Fan-out's sending connections, one user's. Each has its sends acknowledged in turn, so the rate they can
    /// offer is their number per commit round trip: 128 leave a room of 10 limited by the servers, not the load.
    public static let fanoutSenders = 128

    /// `senders`: the sending connections, each of which has its sends acknowledged in turn.
    public static func fanout(cluster: BenchCluster, sizes: [Int], senders: Int, duration: Duration) async throws -> [FanoutResult] {
        try await Fanout(cluster: cluster, sizes: sizes, senderCount: senders, duration: duration, group: group).parley()
    }

    /// The bare broadcast floor: `executable` is `parley-bench`, run as `parley-bench bare-server`.
    public static func bareFanout(executable: String, sizes: [Int], duration: Duration) async throws -> [FanoutResult] {
        try await Fanout(cluster: nil, sizes: sizes, senderCount: 1, duration: duration, group: group).bare(executable: executable)
    }

    /// `peer`: the socket.io peer to run the same load on, after Parley. `reference`: the rate the load is a fraction
    /// of, and where it comes from; found first when nil.
    public static func relay(
        cluster: BenchCluster, pairs: Int, duration: Duration, reference: (rate: Double, source: String)?, peer: PeerSetup?
    ) async throws -> RelayResult {
        try await Relay(cluster: cluster, pairs: pairs, duration: duration, group: group).run(reference: reference, peer: peer)
    }

    public static func peerFanout(
        cluster: BenchCluster, sizes: [Int], senders: Int, duration: Duration, peer: PeerSetup
    ) async throws -> [FanoutResult] {
        try await Fanout(cluster: cluster, sizes: sizes, senderCount: senders, duration: duration, group: group).peer(peer)
    }

    /// `executable` is `parley-bench`, whose `hold` children hold the connections.
    public static func idle(cluster: BenchCluster, counts: [Int], executable: String) async throws -> [IdleResult] {
        try await Idle(cluster: cluster, counts: counts, executable: executable).run()
    }

    /// `executable` is `parley-bench`, whose `storm-client` children are the clients.
    public static func storm(cluster: BenchCluster, clients: Int, executable: String) async throws -> StormResult {
        try await Storm(cluster: cluster, clients: clients, executable: executable).run()
    }

    public static func durable(cluster: BenchCluster, senders: Int, duration: Duration) async throws -> DurableResult {
        try await Durable(cluster: cluster, senders: senders, duration: duration, group: group).run()
    }
}
