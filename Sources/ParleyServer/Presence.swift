import Logging
import ParleyBus
import ParleyCore
import ParleyStore
import ServiceLifecycle

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

    init(nodeId: String, bus: any Bus, store: any Store, holdsConnections: Bool, logger: Logger) {
        self.nodeId = nodeId
        self.bus = bus
        self.store = store
        self.holdsConnections = holdsConnections
        self.logger = logger
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.beat() }
    }

    private func beat() async throws {
        var tick = 0
        while !Task.isCancelled {
            do {
                if holdsConnections { try await bus.heartbeat(node: nodeId, ttl: Self.ttl) }
                if tick % Self.sweepEvery == 0 { try await sweep() }
            } catch {
                logger.debug("presence round failed", metadata: ["error": "\(error)"])
            }
            tick += 1
            try await Task.sleep(for: Self.beat)
        }
    }

    /// A user's first connection on this node opened, or their last one closed.
    func update(user: String, online: Bool) async {
        do {
            if online {
                // Announced unless the user was online already elsewhere. Asked before this node is recorded,
                // which also holds before this node's first heartbeat lands.
                let elsewhere = try await bus.isOnline(user: user)
                // A node that holds users must be known to the sweepers, even if it dies before its next beat.
                try await bus.heartbeat(node: nodeId, ttl: Self.ttl)
                _ = try await bus.setOnline(user: user, node: nodeId, true)
                if !elsewhere { try await announce(user: user, online: true) }
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
