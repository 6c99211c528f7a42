import NIOCore
import ParleyBus
import ParleyCore

/// The hub's deliveries: each bus message decoded once and handed to the local connections it concerns.
extension Hub {
    /// Takes a delivery from the bus, at once on the bus's thread.
    func receive(_ delivery: BusDelivery) {
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
                switch Channel.audience(of: message.channel) {
                case .room(let room):
                    ids = header.kind?.isAttendeeEvent == true ? state.meetings[header.meeting ?? ""]?.connections ?? [] : state.rooms[room] ?? []
                    // A member removed from the room attends none of its meetings from here on: their connections
                    // neither send nor receive the meetings' signals. (The store takes them out next.)
                    if header.kind == .memberRemoved, let user = header.user {
                        for (meeting, entry) in state.meetings where entry.room == room {
                            for conn in entry.connections where state.connections[conn]?.userId == user {
                                if let channel = state.drop(meeting: meeting, connection: conn) { _ = queue(.unsubscribe, [channel], in: &state) }
                            }
                        }
                    }
                case .user(let user):
                    ids = state.users[user] ?? []
                    // An ended meeting has no attendees left: its local audience goes.
                    if header.kind == .meetingEnded, let meeting = header.meeting, let channel = state.drop(meeting: meeting) {
                        _ = queue(.unsubscribe, [channel], in: &state)
                    }
                case .node, .sessions, nil:
                    // A signal reaches its target only while the target attends the meeting.
                    ids = header.to.map { header.kind != .signal || state.attends($0, meeting: header.meeting) ? [$0] : [] } ?? []
                }
                return ids.compactMap { state.connections[$0] }
            }
            deliver(header, message.payload, to: targets)
            guard targets.isEmpty, header.kind == .signal, let to = header.to, let from = header.from,
                let bounce = try? Frames.encode(
                    .error(
                        ErrorFrame(
                            ParleyError(.peerGone, "connection \(to) is not in the meeting"), to: from, peer: to, meeting: header.meeting)))
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
