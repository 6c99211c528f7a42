import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ServiceLifecycle
import Synchronization

/// The node's side of the bus: one subscription for all its sockets. It subscribes to a room or user channel
/// while any local connection needs it, and hands each bus message to the local connections it concerns, decoded
/// once and written to each of them as the same buffer.
///
/// A room's channel is needed while a local connection subscribes to the room or attends a meeting in it;
/// attendee events reach only the meeting's attendees.
final class Hub: Service {
    struct State {
        var connections: [String: Connection] = [:]
        var rooms: [String: Set<String>] = [:]
        var users: [String: Set<String>] = [:]
        /// The meetings local connections attend: the meeting's room and the attending connections.
        var meetings: [String: (room: String, connections: Set<String>)] = [:]
        var subscription: (any BusSubscription)?
        /// The last subscribe or unsubscribe of each channel while it is on its way, or after it failed, for whoever
        /// needs the channel meanwhile to wait on and for the next operation on it to queue behind.
        var pending: [String: (id: Int, task: Task<Void, any Error>)] = [:]
        var operations = 0
        var counter = 0
        /// Whether the hub has stopped: nobody gets its subscription any more.
        var stopped = false

        func needs(room: String) -> Bool {
            rooms[room] != nil || meetings.values.contains { $0.room == room }
        }

        func attends(_ connection: String, meeting: String?) -> Bool {
            meeting.flatMap { meetings[$0] }?.connections.contains(connection) == true
        }

        /// Forgets a meeting; returns its room's channel when nothing else here needs it.
        mutating func drop(meeting: String, connection: String? = nil) -> String? {
            guard let entry = meetings[meeting] else { return nil }
            if let connection {
                meetings[meeting]!.connections.remove(connection)
                guard meetings[meeting]!.connections.isEmpty else { return nil }
            }
            meetings.removeValue(forKey: meeting)
            return needs(room: entry.room) ? nil : Channel.room(entry.room)
        }
    }

    enum Operation {
        case subscribe
        case unsubscribe
    }

    /// This run of the node on the bus (`ws-1~k3f9z0`): connection ids and the node channel use it.
    let nodeId: String
    /// The node's configured name (`PARLEY_NODE_ID`), as `hello` shows it.
    let name: String
    let bus: any Bus
    let logger: Logger
    let state = Mutex(State())
    /// Connections waiting for the hub's subscription (`subscription()`), told when it comes and when the hub stops.
    let subscribed = Waiters()
    /// A drain waiting for the last connection to go (`untilEmpty()`).
    let emptied = Waiters()
    /// The sockets written to and not flushed yet, per event loop.
    let flushes = Mutex<[ObjectIdentifier: PendingFlushes<Connection>]>([:])
    /// How long a large fan-out's flush waits after the loop's last one (`Configuration.fanOutFlushWindow`).
    let fanOutFlushWindow: TimeAmount

    /// Told of sessions revoked anywhere (`Channel.sessions`).
    let sessions: Sessions?

    init(nodeId: String, name: String, bus: any Bus, sessions: Sessions? = nil, fanOutFlushWindow: TimeAmount = .zero, logger: Logger) {
        self.nodeId = nodeId
        self.sessions = sessions
        self.name = name
        self.bus = bus
        self.fanOutFlushWindow = fanOutFlushWindow
        self.logger = logger
    }

    func run() async throws {
        defer {
            // Nobody waits for a subscription, or for an operation on one, past the hub's end.
            let operations = state.withLock { state in
                state.stopped = true
                return state.pending.values.map(\.task)
            }
            subscribed.resumeAll()
            for operation in operations { operation.cancel() }
        }
        try await bus.withSubscription(receive: { self.receive($0) }) { subscription in
            state.withLock { $0.subscription = subscription }
            subscribed.resumeAll()
            try await subscription.subscribe([Channel.node(nodeId), Channel.sessions])
            await cancelWhenGracefulShutdown {
                // Deliveries come to `receive`, on the bus's thread; this only waits for the subscription's end.
                for await _ in subscription.deliveries {}
            }
            state.withLock { $0.subscription = nil }
        }
    }

    /// A new connection id, `{nodeId}.{n}`, so that a signal for it can be routed to this node.
    func nextConnectionId() -> String {
        "\(nodeId).\(state.withLock { state in state.counter += 1; return state.counter })"
    }

    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// How many subscribes and unsubscribes the hub has queued for the bus since it started.
    var queuedOperations: Int { state.withLock { $0.operations } }

    /// The users with a connection on this node.
    var users: [String] { state.withLock { Array($0.users.keys) } }

    /// Adds a connection; returns true when it is its user's first on this node.
    func register(_ connection: Connection) async throws -> Bool {
        var first = false
        try await need(
            Channel.user(connection.userId),
            add: { state in
                state.connections[connection.id] = connection
                first = state.users[connection.userId, default: []].insert(connection.id).inserted && state.users[connection.userId]!.count == 1
                return !first
            },
            undo: { state in
                state.connections.removeValue(forKey: connection.id)
                state.users[connection.userId]?.remove(connection.id)
                if state.users[connection.userId]?.isEmpty == true { state.users.removeValue(forKey: connection.userId) }
            })
        return first
    }

    /// Removes a connection. Returns whether it was its user's last on this node, and the meetings it attended,
    /// which it has left.
    @discardableResult
    func unregister(_ connection: Connection) async -> (lastOfUser: Bool, meetings: [String]) {
        let (unsubscribing, lastOfUser, meetings, empty) = state.withLock { state -> (Task<Void, any Error>?, Bool, [String], Bool) in
            state.connections.removeValue(forKey: connection.id)
            var emptied: Set<String> = []
            for (room, members) in state.rooms where members.contains(connection.id) {
                state.rooms[room]!.remove(connection.id)
                if state.rooms[room]!.isEmpty {
                    state.rooms.removeValue(forKey: room)
                    emptied.insert(room)
                }
            }
            let attended = state.meetings.filter { $0.value.connections.contains(connection.id) }
            for meeting in attended.keys {
                _ = state.drop(meeting: meeting, connection: connection.id)
            }
            state.users[connection.userId]?.remove(connection.id)
            let last = state.users[connection.userId]?.isEmpty == true
            if last { state.users.removeValue(forKey: connection.userId) }
            let channels =
                emptied.union(attended.values.map(\.room)).filter { !state.needs(room: $0) }.map(Channel.room)
                + (last ? [Channel.user(connection.userId)] : [])
            return (channels.isEmpty ? nil : queue(.unsubscribe, channels, in: &state), last, Array(attended.keys), state.connections.isEmpty)
        }
        if empty { emptied.resumeAll() }
        _ = await unsubscribing?.result
        return (lastOfUser, meetings)
    }

    /// Adds the connection to a meeting's local audience, subscribed to its room's channel, so that attendee
    /// events reach it from the moment it joins.
    func attend(_ connection: Connection, meeting: String, room: String) async throws {
        try await need(
            Channel.room(room),
            add: { state in
                let needed = state.needs(room: room)
                state.meetings[meeting, default: (room, [])].connections.insert(connection.id)
                return needed
            },
            undo: { state in _ = state.drop(meeting: meeting, connection: connection.id) })
    }

    func unattend(_ connection: Connection, meeting: String) async {
        let unsubscribing = state.withLock { state in
            state.drop(meeting: meeting, connection: connection.id).map { queue(.unsubscribe, [$0], in: &state) }
        }
        _ = await unsubscribing?.result
    }

    /// Adds the connection to a room's audience. Returns once the node receives the room's channel, so that a
    /// store read after it misses nothing.
    func join(_ connection: Connection, room: String) async throws {
        try await need(
            Channel.room(room),
            add: { state in
                let needed = state.needs(room: room)
                state.rooms[room, default: []].insert(connection.id)
                return needed
            },
            undo: { state in
                state.rooms[room]?.remove(connection.id)
                if state.rooms[room]?.isEmpty == true { state.rooms.removeValue(forKey: room) }
            })
    }

    func leave(_ connection: Connection, room: String) async {
        let unsubscribing = state.withLock { state -> Task<Void, any Error>? in
            guard state.rooms[room]?.remove(connection.id) != nil, state.rooms[room]!.isEmpty else { return nil }
            state.rooms.removeValue(forKey: room)
            return state.needs(room: room) ? nil : queue(.unsubscribe, [Channel.room(room)], in: &state)
        }
        _ = await unsubscribing?.result
    }

    /// Returns once no local connection is left.
    func untilEmpty() async {
        await emptied.wait(cancelled: ()) { state.withLock { $0.connections.isEmpty } ? () : nil }
    }

    /// Closes every local connection, as a drain does.
    func closeAll(code: UInt16, reason: String) {
        for connection in state.withLock({ Array($0.connections.values) }) {
            connection.enqueue(.close(code: code, reason: reason))
        }
    }

    /// Whether a local connection attends a meeting: it joined it here, and has neither left nor closed, nor has the
    /// meeting ended. A connection is in its meeting's audience from just before its join commits.
    func attends(_ connection: String, meeting: String) -> Bool {
        state.withLock { $0.attends(connection, meeting: meeting) }
    }

    /// The local connections of a user, for closing them all at sign-out.
    func connections(of user: String) -> [Connection] {
        state.withLock { state in (state.users[user] ?? []).compactMap { state.connections[$0] } }
    }
}
