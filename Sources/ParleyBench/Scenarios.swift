import NIOPosix

/// The scenarios `parley bench` runs, on the generator's event loops (one per core).
public enum Scenarios {
    private static var group: MultiThreadedEventLoopGroup { .singleton }

    public static func fanout(cluster: BenchCluster, sizes: [Int], duration: Duration) async throws -> [FanoutResult] {
        try await Fanout(cluster: cluster, sizes: sizes, duration: duration, group: group).parley()
    }

    /// The bare broadcast floor: `executable` is `parley`, run as `parley bench bare-server`.
    public static func bareFanout(executable: String, sizes: [Int], duration: Duration) async throws -> [FanoutResult] {
        try await Fanout(cluster: nil, sizes: sizes, duration: duration, group: group).bare(executable: executable)
    }

    public static func relay(cluster: BenchCluster, pairs: Int, duration: Duration, reference: Double?) async throws -> RelayResult {
        try await Relay(cluster: cluster, pairs: pairs, duration: duration, group: group).run(reference: reference)
    }

    public static func durable(cluster: BenchCluster, senders: Int, duration: Duration) async throws -> DurableResult {
        try await Durable(cluster: cluster, senders: senders, duration: duration, group: group).run()
    }
}
