import NIOCore

/// Presence in Redis, with plain commands, pipelined where they do not depend on each other:
/// - `parley:heartbeat:{node}`: set with a TTL while the node lives;
/// - `parley:nodes`: every node that ever beat, until its clean-up;
/// - `parley:node-users:{node}` and `parley:user-nodes:{user}`: who is online where, both ways.
extension RedisBus {
    @discardableResult
    public func heartbeat(node: String, ttl: Duration) async throws -> Bool {
        let milliseconds = ttl.milliseconds
        // GET answers the value the key held before: nil when the beat had lapsed or Redis lost it.
        let replies = try await pipeline([
            ["SET", "parley:heartbeat:\(node)", "1", "PX", "\(milliseconds)", "GET"], ["SADD", "parley:nodes", node],
        ])
        return replies[0].string != nil
    }

    public func recordOnline(users: [String], node: String) async throws -> [String] {
        // Recorded before the others are read, in the same pipeline: a survivor that claims a dead node of the
        // user's meanwhile either is seen here, or sees this node and announces nothing.
        let holders = try await record(users, on: node, "SADD")
        return zip(users, holders).filter { _, nodes in nodes.allSatisfy { $0 == node } }.map(\.0)
    }

    public func recordOffline(users: [String], node: String) async throws -> [String] {
        let live = try await heldLive(users, holders: try await record(users, on: node, "SREM"))
        return users.filter { !live.contains($0) }
    }

    /// Adds (`SADD`) or removes (`SREM`) `users` on `node`, both ways, and gives the nodes that hold each user
    /// afterwards, in one pipeline.
    private func record(_ users: [String], on node: String, _ command: String) async throws -> [[String]] {
        guard !users.isEmpty else { return [] }
        let replies = try await pipeline(
            [[command, "parley:node-users:\(node)"] + users]
                + users.flatMap { [[command, "parley:user-nodes:\($0)", node], ["SMEMBERS", "parley:user-nodes:\($0)"]] })
        return users.indices.map { Self.strings(replies[2 + 2 * $0]) }
    }

    public func online(_ users: [String]) async throws -> Set<String> {
        try await heldLive(users, holders: try await pipeline(users.map { ["SMEMBERS", "parley:user-nodes:\($0)"] }).map(Self.strings))
    }

    /// Those of `users` that a live node holds, given the nodes that hold each (`holders`, in the same order).
    private func heldLive(_ users: [String], holders: [[String]]) async throws -> Set<String> {
        let living = try await alive(Array(Set(holders.joined())))
        return Set(zip(users, holders).filter { _, nodes in nodes.contains(where: living.contains) }.map(\.0))
    }

    public func deadNodes() async throws -> [String] {
        let nodes = try await members("parley:nodes")
        let living = try await alive(nodes)
        return nodes.filter { !living.contains($0) }
    }

    public func claimDeadNode(_ node: String) async throws -> [String]? {
        // One survivor cleans up; the claim outlives the clean-up, so that no other repeats it.
        guard case .simple = try await command("SET", "parley:reaping:\(node)", "1", "NX", "PX", "30000") else { return nil }
        let users = try await members("parley:node-users:\(node)")
        try await pipeline(
            users.map { ["SREM", "parley:user-nodes:\($0)", node] } + [["DEL", "parley:node-users:\(node)"], ["SREM", "parley:nodes", node]])
        return users
    }

    public func isAlive(node: String) async throws -> Bool {
        try await alive([node]).contains(node)
    }

    /// Those of `nodes` whose heartbeat is current, asked in one round trip.
    private func alive(_ nodes: [String]) async throws -> Set<String> {
        let replies = try await pipeline(nodes.map { ["EXISTS", "parley:heartbeat:\($0)"] })
        return Set(zip(nodes, replies).filter { $0.1.integer == 1 }.map(\.0))
    }

    private func members(_ key: String) async throws -> [String] {
        Self.strings(try await command("SMEMBERS", key))
    }

    private static func strings(_ reply: RESPValue) -> [String] {
        reply.array?.compactMap(\.string) ?? []
    }
}
