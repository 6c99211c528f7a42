import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ServiceLifecycle
import Synchronization

/// The node's side of the bus: one subscription for all its sockets. It subscribes to a room or user channel
/// while any local connection needs it, and hands each bus message to the local connections it concerns, decoded
/// once and written to each of them as the same buffer.
final class Hub: Service {
    private struct State {
        var connections: [String: Connection] = [:]
        var rooms: [String: Set<String>] = [:]
        var users: [String: Set<String>] = [:]
        var subscription: (any BusSubscription)?
        var counter = 0
    }

    let nodeId: String
    private let bus: any Bus
    private let logger: Logger
    private let state = Mutex(State())

    init(nodeId: String, bus: any Bus, logger: Logger) {
        self.nodeId = nodeId
        self.bus = bus
        self.logger = logger
    }

    func run() async throws {
        try await bus.withSubscription { subscription in
            state.withLock { $0.subscription = subscription }
            try await subscription.subscribe([Channel.node(nodeId)])
            try? await cancelWhenGracefulShutdown {
                for await delivery in subscription.deliveries {
                    self.dispatch(delivery)
                }
            }
            state.withLock { $0.subscription = nil }
        }
    }

    /// A new connection id, `{nodeId}.{n}`, so that a signal for it can be routed to this node.
    func nextConnectionId() -> String {
        "\(nodeId).\(state.withLock { state in state.counter += 1; return state.counter })"
    }

    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Adds a connection; returns true when it is its user's first on this node.
    func register(_ connection: Connection) async throws -> Bool {
        let first = state.withLock { state in
            state.connections[connection.id] = connection
            return state.users[connection.userId, default: []].insert(connection.id).inserted
                && state.users[connection.userId]!.count == 1
        }
        if first { try await subscription().subscribe([Channel.user(connection.userId)]) }
        return first
    }

    /// Removes a connection; returns true when it was its user's last on this node.
    @discardableResult
    func unregister(_ connection: Connection) async -> Bool {
        let (rooms, lastOfUser) = state.withLock { state -> ([String], Bool) in
            state.connections.removeValue(forKey: connection.id)
            var emptied: [String] = []
            for (room, members) in state.rooms where members.contains(connection.id) {
                state.rooms[room]!.remove(connection.id)
                if state.rooms[room]!.isEmpty {
                    state.rooms.removeValue(forKey: room)
                    emptied.append(room)
                }
            }
            state.users[connection.userId]?.remove(connection.id)
            let last = state.users[connection.userId]?.isEmpty == true
            if last { state.users.removeValue(forKey: connection.userId) }
            return (emptied, last)
        }
        let channels = rooms.map(Channel.room) + (lastOfUser ? [Channel.user(connection.userId)] : [])
        if !channels.isEmpty { try? await subscription().unsubscribe(channels) }
        return lastOfUser
    }

    /// Adds the connection to a room's audience. Returns once the node receives the room's channel, so that a
    /// store read after it misses nothing.
    func join(_ connection: Connection, room: String) async throws {
        let first = state.withLock { state in
            state.rooms[room, default: []].insert(connection.id)
            return state.rooms[room]!.count == 1
        }
        if first { try await subscription().subscribe([Channel.room(room)]) }
    }

    func leave(_ connection: Connection, room: String) async {
        let last = state.withLock { state in
            guard state.rooms[room]?.remove(connection.id) != nil, state.rooms[room]!.isEmpty else { return false }
            state.rooms.removeValue(forKey: room)
            return true
        }
        if last { try? await subscription().unsubscribe([Channel.room(room)]) }
    }

    /// The local connections of a user, for closing them all at sign-out.
    func connections(of user: String) -> [Connection] {
        state.withLock { state in (state.users[user] ?? []).compactMap { state.connections[$0] } }
    }

    private func subscription() async throws -> any BusSubscription {
        // The hub subscribes as the node starts; a connection that races it waits a moment.
        for _ in 0..<500 {
            if let subscription = state.withLock({ $0.subscription }) { return subscription }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ParleyError(.internal, "the node is not connected to its bus")
    }

    private func dispatch(_ delivery: BusDelivery) {
        switch delivery {
        case .resumed:
            // Messages may have been lost while the bus was away: every connection catches up from the store.
            state.withLock { Array($0.connections.values) }.forEach { $0.enqueue(.resync) }
        case .message(let message):
            guard let header = EventHeader.decode(message.payload) else {
                return logger.warning("dropped an undecodable bus message", metadata: ["channel": "\(message.channel)"])
            }
            let targets = state.withLock { state -> [Connection] in
                let ids: Set<String>
                if let room = message.channel.dropping(prefix: "parley:room:") {
                    ids = state.rooms[room] ?? []
                } else if let user = message.channel.dropping(prefix: "parley:user:") {
                    ids = state.users[user] ?? []
                } else {
                    ids = header.to.map { [$0] } ?? []
                }
                return ids.compactMap { state.connections[$0] }
            }
            for connection in targets {
                connection.enqueue(.event(header, message.payload))
            }
        }
    }
}

extension String {
    fileprivate func dropping(prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
