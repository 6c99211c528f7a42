import NIOCore

/// Presence in Redis, with plain commands:
/// - `parley:heartbeat:{node}`: set with a TTL while the node lives;
/// - `parley:nodes`: every node that ever beat, until its clean-up;
/// - `parley:node-users:{node}` and `parley:user-nodes:{user}`: who is online where, both ways.
extension RedisBus {
    @discardableResult
    public func heartbeat(node: String, ttl: Duration) async throws -> Bool {
        let milliseconds = ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
        // GET answers the value the key held before: nil when the beat had lapsed or Redis lost it.
        let previous = try await command("SET", "parley:heartbeat:\(node)", "1", "PX", "\(milliseconds)", "GET")
        try await command("SADD", "parley:nodes", node)
        return previous.string != nil
    }

    public func recordOnline(user: String, node: String) async throws -> Bool {
        // Recorded before the others are read: a survivor that claims a dead node of the user's meanwhile either
        // is seen here, or sees this node and announces nothing.
        try await command("SADD", "parley:node-users:\(node)", user)
        try await command("SADD", "parley:user-nodes:\(user)", node)
        return try await members("parley:user-nodes:\(user)").contains { $0 != node }
    }

    public func recordOffline(user: String, node: String) async throws -> Bool {
        try await command("SREM", "parley:node-users:\(node)", user)
        try await command("SREM", "parley:user-nodes:\(user)", node)
        return try await isOnline(user: user)
    }

    public func isOnline(user: String) async throws -> Bool {
        for node in try await members("parley:user-nodes:\(user)") where try await isAlive(node: node) {
            return true
        }
        return false
    }

    public func deadNodes() async throws -> [String] {
        var dead: [String] = []
        for node in try await members("parley:nodes") where !(try await isAlive(node: node)) {
            dead.append(node)
        }
        return dead
    }

    public func claimDeadNode(_ node: String) async throws -> [String]? {
        // One survivor cleans up; the claim outlives the clean-up, so that no other repeats it.
        guard case .simple = try await command("SET", "parley:reaping:\(node)", "1", "NX", "PX", "30000") else { return nil }
        let users = try await members("parley:node-users:\(node)")
        for user in users {
            try await command("SREM", "parley:user-nodes:\(user)", node)
        }
        try await command("DEL", "parley:node-users:\(node)")
        try await command("SREM", "parley:nodes", node)
        return users
    }

    public func isAlive(node: String) async throws -> Bool {
        try await command("EXISTS", "parley:heartbeat:\(node)").integer == 1
    }

    private func members(_ key: String) async throws -> [String] {
        try await command("SMEMBERS", key).array?.compactMap(\.string) ?? []
    }
}
