import Logging
import ParleyBus
import ParleyCore
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Who is online, across nodes. A user is online while any of their connections is, on any live node.
///
/// Every WS node beats on the bus with a short TTL. Every node also looks for nodes whose beat lapsed (killed,
/// not stopped): once one has been dead for a grace period, one survivor claims it, and announces its users offline,
/// unless they are online elsewhere. The grace lets the dead node's clients reconnect first: a user back before the
/// claim is no news, so a crash does not flood every room with each of its users going and coming back. With a 5 s
/// TTL, a 2 s sweep and a 4 s grace, the users who do not come back are announced about 10 s after the kill.
///
/// Sockets hand their user's changes over without waiting (`update`), and the service records them on the bus in
/// batches, in order: a storm of thousands of reconnects costs a few round trips, not thousands, and nothing of it
/// waits in front of the sockets' own work. What is news is announced by a second queue, so that announcing (the
/// users' rooms read, and a publish per user and room) never holds the recording back: a node that took thousands
/// of new users and died seconds later must have recorded them all, or their rooms see them leave and come back.
final class Presence: Service {
    static let ttl = Duration.seconds(5)
    static let beat = Duration.seconds(1)
    static let sweepEvery = 2
    /// How long a node is seen dead before it is claimed.
    static let claimGrace = Duration.seconds(4)
    /// Users whose changes are recorded, or looked up, in one round trip to the bus.
    static let batchSize = 1000
    /// Announcements published at the same time.
    static let concurrency = 8

    let nodeId: String
    private let bus: any Bus
    private let store: any Store
    private let logger: Logger
    /// Only WS nodes hold connections, so only they beat; every node sweeps.
    private let holdsConnections: Bool
    /// The users with connections on this node now.
    private let localUsers: @Sendable () -> [String]
    private let hasBeaten = Atomic(false)
    /// Changes not recorded yet, in the order they came.
    private let changes = ChangeQueue()
    /// Changes that are news, to be announced in the order they were found.
    private let news = ChangeQueue()

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
        try? await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.rounds() }
                group.addTask { await self.applyChanges() }
                group.addTask { await self.announceNews() }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func rounds() async throws {
        var tick = 0
        var deadSince: [String: ContinuousClock.Instant] = [:]
        while !Task.isCancelled {
            do {
                if holdsConnections { try await beat() }
                if tick % Self.sweepEvery == 0 { try await sweep(&deadSince) }
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
        await record(users, online: true)
    }

    /// A user's first connection on this node opened, or their last one closed. Applied soon, after the changes
    /// before it.
    func update(user: String, online: Bool) {
        changes.push([user], online: online)
    }

    /// Applies the changes as they come: all that are waiting at once, a user's last change only, recorded on the
    /// bus in batches. A user's changes are applied in order, as one batch ends before the next starts.
    private func applyChanges() async {
        await changes.forEachBatch { last in
            do {
                // A node that holds users must be known to the sweepers, even if it dies before its next beat.
                if last.values.contains(true) { try await beat() }
            } catch {
                warn("presence beat failed", error)
            }
            for online in [true, false] {
                await record(last.filter { $0.value == online }.map(\.key), online: online)
            }
        }
    }

    /// Records `users` online or offline on this node, and queues the announcement of those for whom it is news:
    /// online where no other node holds them, offline where no live node does.
    private func record(_ users: [String], online: Bool) async {
        for batch in Self.batches(of: users) {
            do {
                news.push(
                    try await online ? bus.recordOnline(users: batch, node: nodeId) : bus.recordOffline(users: batch, node: nodeId),
                    online: online)
            } catch {
                warn("presence update failed", error, users: batch.count)
            }
        }
    }

    /// Announces the news as it comes: all that is waiting at once, a user's last change only, the users' rooms
    /// read in batches, several publishes at a time. A user's announcements go out in order, as one batch ends before
    /// the next starts. Whoever holds one of the user's rooms sees the change.
    private func announceNews() async {
        await news.forEachBatch { last in
            for users in Self.batches(of: Array(last.keys)) {
                let rooms: [String: [String]]
                do {
                    rooms = try await store.roomIds(of: users)
                } catch {
                    warn("presence announcement failed", error, users: users.count)
                    continue
                }
                let changes = users.flatMap { user in
                    rooms[user, default: []].map { (room: $0, event: Event.presence(room: $0, user: user, online: last[user]!)) }
                }
                await withTaskGroup(of: Void.self) { group in
                    for (index, change) in changes.enumerated() {
                        if index >= Self.concurrency { await group.next() }
                        group.addTask {
                            do {
                                try await self.bus.publish(try Frames.encode(change.event), to: Channel.room(change.room))
                            } catch {
                                self.warn("presence announcement failed", error)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Logs a failure, unless the service is stopping: its work is cancelled then, and that is no news.
    private func warn(_ message: Logger.Message, _ error: any Error, users: Int? = nil) {
        guard !Task.isCancelled else { return }
        var metadata: Logger.Metadata = ["error": "\(error)"]
        if let users { metadata["users"] = "\(users)" }
        logger.warning(message, metadata: metadata)
    }

    private static func batches(of users: [String]) -> [[String]] {
        stride(from: 0, to: users.count, by: batchSize).map { Array(users[$0..<min(users.count, $0 + batchSize)]) }
    }

    /// Claims the nodes seen dead for `claimGrace` (`deadSince` says since when each was seen dead), and announces
    /// their users offline.
    private func sweep(_ deadSince: inout [String: ContinuousClock.Instant]) async throws {
        let dead = try await bus.deadNodes().filter { $0 != nodeId }
        deadSince = dead.reduce(into: [:]) { seen, node in seen[node] = deadSince[node] ?? .now }
        for node in dead where deadSince[node]!.duration(to: .now) >= Self.claimGrace {
            guard let users = try await bus.claimDeadNode(node) else { continue }
            logger.notice("a node stopped beating; its users go offline", metadata: ["dead": "\(node)", "users": "\(users.count)"])
            for batch in Self.batches(of: users) {
                let online = try await bus.online(batch)
                news.push(batch.filter { !online.contains($0) }, online: false)
            }
        }
    }
}

/// Users' presence changes waiting to be handled, in the order they came.
private final class ChangeQueue: Sendable {
    private let changes = Mutex<[(user: String, online: Bool)]>([])
    private let signal = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    func push(_ users: [String], online: Bool) {
        guard !users.isEmpty else { return }
        changes.withLock { $0 += users.map { ($0, online) } }
        signal.continuation.yield()
    }

    /// Each time changes wait, takes them all and hands `body` each user's last, until the service stops.
    func forEachBatch(_ body: ([String: Bool]) async -> Void) async {
        for await _ in signal.stream {
            let taken = changes.withLock { changes in
                defer { changes.removeAll() }
                return changes
            }
            await body(taken.reduce(into: [:]) { last, change in last[change.user] = change.online })
        }
    }
}
