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

    public func setOnline(user: String, node: String, _ online: Bool) async throws -> Bool {
        let verb = online ? "SADD" : "SREM"
        try await command(verb, "parley:node-users:\(node)", user)
        try await command(verb, "parley:user-nodes:\(user)", node)
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
