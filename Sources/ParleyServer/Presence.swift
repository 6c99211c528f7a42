import Logging
import ParleyBus
import ParleyCore
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Who is online, across nodes. A user is online while any of their connections is, on any live node.
///
/// Every WS node beats on the bus with a short TTL. Every node also looks for nodes whose beat lapsed (killed,
/// not stopped): one survivor claims each, and announces its users offline, unless they are online elsewhere.
/// With a 5 s TTL and a 2 s sweep that happens within about 7 s of the kill.
final class Presence: Service {
    static let ttl = Duration.seconds(5)
    static let beat = Duration.seconds(1)
    static let sweepEvery = 2

    let nodeId: String
    private let bus: any Bus
    private let store: any Store
    private let logger: Logger
    /// Only WS nodes hold connections, so only they beat; every node sweeps.
    private let holdsConnections: Bool
    /// The users with connections on this node now.
    private let localUsers: @Sendable () -> [String]
    private let hasBeaten = Atomic(false)

    init(
        nodeId: String, bus: any Bus, store: any Store, holdsConnections: Bool, logger: Logger,
        localUsers: @escaping @Sendable () -> [String]
    ) {
        self.nodeId = nodeId
        self.bus = bus
        self.store = store
        self.holdsConnections = holdsConnections
        self.logger = logger
        self.localUsers = localUsers
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.rounds() }
    }

    private func rounds() async throws {
        var tick = 0
        while !Task.isCancelled {
            do {
                if holdsConnections { try await beat() }
                if tick % Self.sweepEvery == 0 { try await sweep() }
            } catch {
                logger.debug("presence round failed", metadata: ["error": "\(error)"])
            }
            tick += 1
            try await Task.sleep(for: Self.beat)
        }
    }

    /// Marks this node alive. When its previous beat had lapsed although the node lived (Redis restarted and lost
    /// what it knew, or the node stalled for longer than the TTL and a survivor claimed it), its online users are
    /// recorded and announced again, so that presence matches the connections.
    private func beat() async throws {
        let wasCurrent = try await bus.heartbeat(node: nodeId, ttl: Self.ttl)
        let beatBefore = hasBeaten.exchange(true, ordering: .relaxed)
        guard !wasCurrent, beatBefore else { return }
        let users = localUsers()
        logger.notice("the heartbeat had lapsed; recording this node's online users again", metadata: ["users": "\(users.count)"])
        for user in users {
            try await recordOnline(user: user)
        }
    }

    /// Records `user` online on this node, and announces it unless they were online elsewhere already.
    private func recordOnline(user: String) async throws {
        let elsewhere = try await bus.isOnline(user: user)
        _ = try await bus.setOnline(user: user, node: nodeId, true)
        if !elsewhere { try await announce(user: user, online: true) }
    }

    /// A user's first connection on this node opened, or their last one closed.
    func update(user: String, online: Bool) async {
        do {
            if online {
                // A node that holds users must be known to the sweepers, even if it dies before its next beat.
                try await beat()
                try await recordOnline(user: user)
            } else if try await !bus.setOnline(user: user, node: nodeId, false) {
                // Still online on another node: nothing anyone sees has changed.
                try await announce(user: user, online: false)
            }
        } catch {
            logger.warning("presence update failed", metadata: ["error": "\(error)"])
        }
    }

    private func sweep() async throws {
        for node in try await bus.deadNodes() where node != nodeId {
            guard let users = try await bus.claimDeadNode(node) else { continue }
            logger.notice("a node stopped beating; its users go offline", metadata: ["dead": "\(node)", "users": "\(users.count)"])
            for user in users where !(try await bus.isOnline(user: user)) {
                try await announce(user: user, online: false)
            }
        }
    }

    /// Tells the user's rooms; whoever holds one of them sees the change.
    private func announce(user: String, online: Bool) async throws {
        for room in try await store.roomIds(of: user) {
            try await bus.publish(try Frames.encode(Frames.PresenceChanged(room: room, user: user, online: online)), to: Channel.room(room))
        }
    }
}
