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
    private struct State {
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

    private enum Operation {
        case subscribe
        case unsubscribe
    }

    /// This run of the node on the bus (`ws-1~k3f9z0`): connection ids and the node channel use it.
    let nodeId: String
    /// The node's configured name (`PARLEY_NODE_ID`), as `hello` shows it.
    let name: String
    private let bus: any Bus
    private let logger: Logger
    private let state = Mutex(State())
    /// The sockets written to and not flushed yet, per event loop.
    private let flushes = Mutex<[ObjectIdentifier: PendingFlushes<Connection>]>([:])
    /// How long a large fan-out's flush waits after the loop's last one (`Configuration.fanOutFlushWindow`).
    private let fanOutFlushWindow: TimeAmount

    /// Told of sessions revoked anywhere (`Channel.sessions`).
    private let sessions: Sessions?

    init(nodeId: String, name: String, bus: any Bus, sessions: Sessions? = nil, fanOutFlushWindow: TimeAmount = .zero, logger: Logger) {
        self.nodeId = nodeId
        self.sessions = sessions
        self.name = name
        self.bus = bus
        self.fanOutFlushWindow = fanOutFlushWindow
        self.logger = logger
    }

    func run() async throws {
        try await bus.withSubscription(receive: { self.receive($0) }) { subscription in
            state.withLock { $0.subscription = subscription }
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
        let (unsubscribing, lastOfUser, meetings) = state.withLock { state -> (Task<Void, any Error>?, Bool, [String]) in
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
            return (channels.isEmpty ? nil : queue(.unsubscribe, channels, in: &state), last, Array(attended.keys))
        }
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

    /// Records a need of `channel` and returns once the node receives it. `add` records the need and says whether
    /// the channel was needed already. The first to need it subscribes; whoever comes while that is on its way
    /// waits for the same subscription (the channel's last operation, since a channel needed already was last
    /// subscribed), so that no one reads the store before the channel's messages reach the node. When the
    /// subscription fails, each of them takes its need back with `undo` and throws.
    private func need(
        _ channel: String, add: (inout State) -> Bool, undo: @escaping @Sendable (inout State) -> Void
    ) async throws {
        let subscribing = state.withLock { state in
            add(&state) ? state.pending[channel]?.task : queue(.subscribe, [channel], in: &state)
        }
        do {
            try await subscribing?.value
        } catch {
            // The failed subscription stays, so that those who come before every need is taken back fail too; the
            // next first need queues behind it.
            state.withLock { undo(&$0) }
            throw error
        }
    }

    /// Starts subscribing or unsubscribing `channels` once the operations queued on them before are done. Called
    /// in the same lock as the change of needs that calls for it, so that the bus sees each channel's subscribes
    /// and unsubscribes in the order the hub decided them: a join that comes as the room's last socket leaves is
    /// subscribed after the leave's unsubscribe, not undone by it.
    private func queue(_ operation: Operation, _ channels: [String], in state: inout State) -> Task<Void, any Error> {
        state.operations += 1
        let id = state.operations
        let before = channels.compactMap { state.pending[$0]?.task }
        let task = Task {
            for task in before { _ = await task.result }
            let subscription = try await self.subscription()
            switch operation {
            case .subscribe: try await subscription.subscribe(channels)
            case .unsubscribe: try await subscription.unsubscribe(channels)
            }
            self.state.withLock { state in
                for channel in channels where state.pending[channel]?.id == id { state.pending.removeValue(forKey: channel) }
            }
        }
        for channel in channels { state.pending[channel] = (id, task) }
        return task
    }

    func leave(_ connection: Connection, room: String) async {
        let unsubscribing = state.withLock { state -> Task<Void, any Error>? in
            guard state.rooms[room]?.remove(connection.id) != nil, state.rooms[room]!.isEmpty else { return nil }
            state.rooms.removeValue(forKey: room)
            return state.needs(room: room) ? nil : queue(.unsubscribe, [Channel.room(room)], in: &state)
        }
        _ = await unsubscribing?.result
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

    private func subscription() async throws -> any BusSubscription {
        // The hub subscribes as the node starts; a connection that races it waits a moment.
        for _ in 0..<500 {
            if let subscription = state.withLock({ $0.subscription }) { return subscription }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ParleyError(.internal, "the node is not connected to its bus")
    }

    /// Takes a delivery from the bus, at once on the bus's thread.
    private func receive(_ delivery: BusDelivery) {
        guard let (bounce, channel) = dispatch(delivery) else { return }
        bus.publish(bounce, to: channel) { _ in }
    }

    /// Hands a bus message to its local connections. Returns the `peer.gone` bounce to publish, and its channel,
    /// for a signal whose connection is not here.
    private func dispatch(_ delivery: BusDelivery) -> (ByteBuffer, String)? {
        switch delivery {
        case .resumed:
            // Messages may have been lost while the bus was away: every connection catches up from the store.
            state.withLock { Array($0.connections.values) }.forEach { $0.enqueue(.resync) }
            return nil
        case .message(let message) where message.channel == Channel.sessions:
            sessions?.receive(message.payload)
            return nil
        case .message(let message):
            guard let header = EventHeader.decode(message.payload) else {
                logger.warning("dropped an undecodable bus message", metadata: ["channel": "\(message.channel)"])
                return nil
            }
            let targets = state.withLock { state -> [Connection] in
                let ids: Set<String>
                if let room = message.channel.dropping(prefix: "parley:room:") {
                    ids = header.isAttendeeEvent ? state.meetings[header.meeting ?? ""]?.connections ?? [] : state.rooms[room] ?? []
                    // A member removed from the room attends none of its meetings from here on: their connections
                    // neither send nor receive the meetings' signals. (The store takes them out next.)
                    if header.type == "member.removed", let user = header.user {
                        for (meeting, entry) in state.meetings where entry.room == room {
                            for conn in entry.connections where state.connections[conn]?.userId == user {
                                if let channel = state.drop(meeting: meeting, connection: conn) { _ = queue(.unsubscribe, [channel], in: &state) }
                            }
                        }
                    }
                } else if let user = message.channel.dropping(prefix: "parley:user:") {
                    ids = state.users[user] ?? []
                    // An ended meeting has no attendees left: its local audience goes.
                    if header.type == "meeting.ended", let meeting = header.meeting, let channel = state.drop(meeting: meeting) {
                        _ = queue(.unsubscribe, [channel], in: &state)
                    }
                } else if header.type == "signal" {
                    // A signal reaches its target only while the target attends the meeting.
                    ids = header.to.map { state.attends($0, meeting: header.meeting) ? [$0] : [] } ?? []
                } else {
                    ids = header.to.map { [$0] } ?? []
                }
                return ids.compactMap { state.connections[$0] }
            }
            deliver(header, message.payload, to: targets)
            guard targets.isEmpty, header.type == "signal", let to = header.to, let from = header.from,
                let bounce = try? Frames.encode(
                    MeetingFrames.PeerGone(
                        to: from, peer: to, meeting: header.meeting, error: .init(message: "connection \(to) is not in the meeting")))
            else { return nil }
            return (bounce, Channel.node(Attendee.node(of: from)))
        }
    }

    /// Hands an event to its local connections with one task per event loop, not one per socket: on its loop, each
    /// connection writes the event on its socket or queues it. The sockets written to are flushed by one task per
    /// loop, queued behind the deliveries: under load, the events queued meanwhile share a socket's flush. A large
    /// fan-out's flush may wait a little longer (`PendingFlushes`).
    private func deliver(_ header: EventHeader, _ payload: ByteBuffer, to targets: [Connection]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, connections: [Connection])] = [:]
        for connection in targets {
            guard let loop = connection.channel?.eventLoop else {
                connection.enqueue(.event(header, payload))
                continue
            }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].connections.append(connection)
        }
        guard !byLoop.isEmpty else { return }
        let frame = ByteBuffer.webSocketText(payload)
        for (loop, connections) in byLoop.values {
            loop.execute {
                let written = connections.filter { $0.deliver(header, payload, frame: frame) }
                guard !written.isEmpty else { return }
                let key = ObjectIdentifier(loop)
                let large = written.count >= PendingFlushes<Connection>.largeFanOut
                let flush = { self.flush(key, large: large) }
                switch self.flushes.withLock({ $0[key, default: .init(window: self.fanOutFlushWindow)].add(written, large: large, now: .now()) }) {
                case .queued: break
                case .now: loop.execute(flush)
                case .at(let deadline): loop.scheduleTask(deadline: deadline, flush)
                }
            }
        }
    }

    private func flush(_ key: ObjectIdentifier, large: Bool) {
        let pending = flushes.withLock { $0[key]!.take(large: large, now: .now()) }
        var flushed = Set<ObjectIdentifier>()
        for connection in pending where flushed.insert(ObjectIdentifier(connection)).inserted { connection.flushDelivered() }
    }
}

/// One event loop's sockets written to and not flushed yet, in two lists: those of small fan-outs, to flush as soon
/// as the loop's queued deliveries are done, and those of large ones. A large fan-out's flush waits until `window`
/// has passed since the loop's last one, so that from about one large event per window on, two or more events share
/// each socket's syscall. Below that rate nothing waits, and a reply, a signal or a small room's event never does.
struct PendingFlushes<Socket> {
    /// The fewest sockets on one loop an event must be written to for its flush to wait.
    static var largeFanOut: Int { 64 }

    enum Flush: Equatable {
        /// A flush that will take these sockets is queued already.
        case queued
        /// Queue a flush behind the loop's deliveries.
        case now
        /// Schedule a flush for this time.
        case at(NIODeadline)
    }

    let window: TimeAmount
    private var small: [Socket] = []
    private var large: [Socket] = []
    private var largeQueued = false
    private var lastLargeFlush: NIODeadline?

    init(window: TimeAmount) {
        self.window = window
    }

    /// Whether a fan-out's flush goes on the held list: a large one's, while there is a window.
    private func holds(large: Bool) -> Bool { large && window > .zero }

    /// Adds sockets written to, and says what flushes them.
    mutating func add(_ sockets: [Socket], large: Bool, now: NIODeadline) -> Flush {
        guard holds(large: large) else {
            defer { small += sockets }
            return small.isEmpty ? .now : .queued
        }
        self.large += sockets
        guard !largeQueued else { return .queued }
        largeQueued = true
        guard let last = lastLargeFlush, last + window > now else { return .now }
        return .at(last + window)
    }

    /// Takes the sockets that a flush queued by `add` is for.
    mutating func take(large: Bool, now: NIODeadline) -> [Socket] {
        guard holds(large: large) else {
            defer { small = [] }
            return small
        }
        largeQueued = false
        lastLargeFlush = now
        defer { self.large = [] }
        return self.large
    }
}

extension String {
    fileprivate func dropping(prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
