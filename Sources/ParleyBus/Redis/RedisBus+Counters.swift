/// Throttle counters in Redis, shared by every node: a key made with its window's TTL by the first count
/// (`SET … NX PX`), then `INCR`, which keeps the TTL; locks are keys with a TTL. Each call is one pipeline.
extension RedisBus {
    public func count(_ keys: [String], window: Duration) async throws -> [(count: Int, remaining: Duration)] {
        let replies = try await pipeline(
            keys.flatMap { [["SET", $0, "0", "PX", "\(max(window.milliseconds, 1))", "NX"], ["INCR", $0], ["PTTL", $0]] })
        return keys.indices.map { index in
            (Int(replies[3 * index + 1].integer ?? 0), .milliseconds(max(replies[3 * index + 2].integer ?? 0, 0)))
        }
    }

    public func lock(_ locks: [(key: String, for: Duration)]) async throws {
        try await pipeline(locks.map { ["SET", $0.key, "1", "PX", "\(max($0.for.milliseconds, 1))"] })
    }

    public func acquire(_ key: String, for duration: Duration) async throws -> Bool {
        guard case .simple = try await command("SET", key, "1", "PX", "\(max(duration.milliseconds, 1))", "NX") else { return false }
        return true
    }

    public func locked(_ keys: [String]) async throws -> [Duration?] {
        // PTTL answers -2 for a key that does not exist.
        try await pipeline(keys.map { ["PTTL", $0] }).map { reply in reply.integer.flatMap { $0 > 0 ? .milliseconds($0) : nil } }
    }

    public func reset(_ keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        // One DEL per key: on a cluster, keys in different slots cannot share a command.
        try await pipeline(keys.map { ["DEL", $0] })
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
