/// Throttle counters in Redis, shared by every node: `INCR` with a window set by the key's first count
/// (`PEXPIRE … NX`), and locks as keys with a TTL. Each call is one pipeline.
extension RedisBus {
    public func count(_ keys: [String], window: Duration) async throws -> [(count: Int, remaining: Duration)] {
        let replies = try await pipeline(
            keys.flatMap { [["INCR", $0], ["PEXPIRE", $0, "\(window.milliseconds)", "NX"], ["PTTL", $0]] })
        return keys.indices.map { index in
            (Int(replies[3 * index].integer ?? 0), .milliseconds(max(replies[3 * index + 2].integer ?? 0, 0)))
        }
    }

    public func lock(_ locks: [(key: String, for: Duration)]) async throws {
        try await pipeline(locks.map { ["SET", $0.key, "1", "PX", "\(max($0.for.milliseconds, 1))"] })
    }

    public func locked(_ keys: [String]) async throws -> [Duration?] {
        // PTTL answers -2 for a key that does not exist.
        try await pipeline(keys.map { ["PTTL", $0] }).map { reply in reply.integer.flatMap { $0 > 0 ? .milliseconds($0) : nil } }
    }

    public func reset(_ keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await pipeline([["DEL"] + keys])
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
