import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOWebSocket
import ParleyBus
import ParleyCore
import ParleyStore

/// The WebSocket endpoint, `/ws` with subprotocol `parley.v1`: authenticated before the upgrade (`admit`), then
/// served on the socket's event loop (`SocketHandler`), with what the client sends run in order by `receive` and
/// what goes out written by the socket's `Connection`. An idle socket keeps no task. A class, so that each socket
/// holds one reference to it rather than a copy of its fields.
final class Gateway: Sendable {
    /// Frames and messages larger than this close the socket with 1009.
    static let maxMessageBytes = 64 * 1024
    static let heartbeat = TimeAmount.seconds(30)

    let hub: Hub
    let store: any Store
    let bus: any Bus
    let tokens: Tokens
    let sessions: Sessions
    let events: EventPublisher
    let presence: Presence
    let meetings: Meetings
    let attachments: FileAttachments
    let drain: NodeDrain
    /// Frames per second per connection; the bucket holds twice as many.
    let rateLimit: Int
    let limits: ClientLimits
    /// The sockets open per user.
    private let sockets = ChannelCounts()
    let allowedOrigins: Set<String>
    let logger: Logger

    init(
        hub: Hub, store: any Store, bus: any Bus, tokens: Tokens, sessions: Sessions, events: EventPublisher, presence: Presence, meetings: Meetings,
        attachments: FileAttachments, drain: NodeDrain, rateLimit: Int, limits: ClientLimits, allowedOrigins: Set<String>, logger: Logger
    ) {
        self.limits = limits
        self.hub = hub
        self.store = store
        self.bus = bus
        self.tokens = tokens
        self.sessions = sessions
        self.events = events
        self.presence = presence
        self.meetings = meetings
        self.attachments = attachments
        self.drain = drain
        self.rateLimit = rateLimit
        self.allowedOrigins = allowedOrigins
        self.logger = logger
    }

    /// Whom an upgrade request on `channel` is for; throws what refuses it, which the client gets as an HTTP error.
    /// An admitted socket counts against its user's `socketsPerUser` until the channel closes.
    func admit(_ head: HTTPRequestHead, on channel: any NIOCore.Channel) async throws -> Tokens.Access {
        guard head.uri == "/ws" || head.uri.hasPrefix("/ws?") else { throw ParleyError.notFound("route \(head.uri)") }
        // A draining node takes no new sockets: the client tries again, and the balancer sends it elsewhere.
        guard !drain.isDraining else { throw ParleyError(.unavailable, "the node is draining: connect to another") }
        let admitted = try await WebSocketAuthenticator(tokens: tokens, allowedOrigins: allowedOrigins).authenticate(head)
        try await sessions.require(admitted)
        // The recorder's sockets are one per recording that a worker records, each with a session of its own.
        let limit = admitted.userId == User.recorderId ? Int.max : limits.socketsPerUser
        guard sockets.admit(channel, as: admitted.userId, limit: limit) else {
            throw ParleyError.rateLimited("you have \(limits.socketsPerUser) sockets open on this node already", retryAfter: 5)
        }
        return admitted
    }

    /// Serves an upgraded socket: its handler goes on the pipeline, after the frame codec. On the channel's loop.
    func open(_ channel: any NIOCore.Channel, access: Tokens.Access) throws {
        let connection = Connection(
            id: hub.nextConnectionId(), userId: access.userId, session: access.session, tokenExpiry: access.expiresAt, store: store,
            sink: SocketFrameSink(channel: channel),
            channel: channel, maxQueuedBytes: limits.socketBufferBytes)
        let handler = SocketHandler(
            connection: connection, rateLimit: rateLimit, heartbeat: Self.heartbeat,
            run: { [self] input in await receive(input, connection) },
            runAtOnce: { [self] input, done in runAtOnce(input, connection, done: done) })
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// Runs a signal at once, on the socket's event loop, when nothing the client sent before waits: a signal only
    /// publishes, and costs no task hop this way. What the client sends next waits until `done`, after the
    /// publish's reply, so that replies keep their order. Returns false, having done nothing, for anything else.
    private func runAtOnce(_ input: Inbound, _ connection: Connection, done: @escaping @Sendable () -> Void) -> Bool {
        guard case .frame(let frame) = input, case .signal(let meeting, let to, let kind, let payload) = frame.body else { return false }
        relay(meeting, to: to, kind: kind, payload: payload, connection) { [self] result in
            answer(frame, with: result, connection)
            done()
        }
        return true
    }

    /// Relays a signal; `then` gets the outcome, on the bus's thread or at once.
    private func relay(
        _ meeting: String, to: String, kind: SignalKind, payload: JSONValue?, _ connection: Connection,
        then: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        do {
            try meetings.signal(
                meeting, to: to, kind: kind, payload: payload, from: connection.id, user: connection.userId,
                attends: { hub.attends(connection.id, meeting: $0) }, then: then)
        } catch {
            then(.failure(error))
        }
    }

    /// Queues the reply to a frame that wants one, and the error of one that failed.
    private func answer(_ frame: ClientFrame, with result: Result<Void, any Error>, _ connection: Connection) {
        switch result {
        case .success:
            if let id = frame.id { connection.enqueue(.frame(Frames.ok(re: id))) }
        case .failure(let error):
            fail(frame, error, connection)
        }
    }

    /// Queues the error frame of a frame that failed: what a `ParleyError` says, or `internal`, logged.
    private func fail(_ frame: ClientFrame, _ error: any Error, _ connection: Connection) {
        guard let error = error as? ParleyError else {
            logger.error("frame failed", metadata: ["type": "\(frame.kind.rawValue)", "error": "\(error)"])
            return connection.fail(re: frame.id, ParleyError(.internal, "something went wrong on the server"))
        }
        connection.fail(re: frame.id, error)
    }

    /// Runs what the client sent, one input at a time.
    private func receive(_ input: Inbound, _ connection: Connection) async {
        switch input {
        case .opened:
            do {
                try await greet(connection)
            } catch {
                logger.error("greeting failed", metadata: ["error": "\(error)"])
                connection.enqueue(.close(code: 1011, reason: "the node cannot serve you now: reconnect"))
            }
        case .frame(let frame):
            do {
                try await handle(frame, connection)
            } catch {
                fail(frame, error, connection)
            }
        case .malformed:
            connection.fail(re: nil, ParleyError(.badRequest, "not a frame: malformed JSON or no type"))
        case .invalid(let re, let error):
            connection.fail(re: re, error)
        case .binary:
            connection.fail(re: nil, ParleyError(.badRequest, "frames are JSON text"))
        case .closed:
            connection.finish()
            let (lastOfUser, attended) = await hub.unregister(connection)
            for meeting in attended { await meetings.leave(meeting, conn: connection.id) }
            if lastOfUser { presence.update(user: connection.userId, online: false) }
        }
    }

    /// Registers a new socket on the hub and queues its `hello`, and what is still ringing for its user.
    private func greet(_ connection: Connection) async throws {
        if try await hub.register(connection) { presence.update(user: connection.userId, online: true) }
        let hello = Hello(conn: connection.id, user: connection.userId, node: hub.name, heartbeatMs: Int(Self.heartbeat.nanoseconds / 1_000_000))
        connection.enqueue(.frame(try Frames.encode(.hello(hello))))
        // A callee who was away hears of the calls that are still ringing or going on.
        for meeting in (try? await store.openMeetings(of: connection.userId)) ?? [] {
            connection.enqueue(.frame(try Frames.encode(.meeting(meeting))))
        }
    }

    /// Runs one client frame. Every frame is authorized against the store: membership for rooms.
    private func handle(_ frame: ClientFrame, _ connection: Connection) async throws {
        // Built by the frames that reply with it: a send replies with its acknowledgement, a signal through `answer`.
        var reply: ByteBuffer? { frame.id.map(Frames.ok(re:)) }
        if connection.userId == User.recorderId { try Self.requireRecorderFrame(frame.body) }
        switch frame.body {
        case .subscribe(let named):
            guard named.count <= 1000 else { throw ParleyError.invalid("rooms", "may name at most 1000 rooms") }
            let cursors = Self.merged(named)
            for cursor in cursors {
                try await requireMember(connection.userId, cursor.room)
            }
            for (index, cursor) in cursors.enumerated() {
                // Subscribed on the bus before the replay reads the store, so that nothing falls in between.
                try await hub.join(connection, room: cursor.room)
                connection.enqueue(
                    .subscribe(room: cursor.room, since: max(cursor.since ?? 0, 0), reply: index == cursors.count - 1 ? reply : nil))
            }
            if cursors.isEmpty, let reply { connection.enqueue(.frame(reply)) }
        case .unsubscribe(let rooms):
            for room in rooms {
                await hub.leave(connection, room: room)
                connection.enqueue(.unsubscribe(room: room))
            }
            if let reply { connection.enqueue(.frame(reply)) }
        case .send(let room, let clientId, let text, let files, let replyTo):
            let clientId = try Validate.clientId(clientId)
            let message = try Validate.message(text: text, files: files)
            let sent = try await attachments.send(
                room: room, sender: connection.userId, clientId: clientId, text: message.text, files: message.files,
                replyTo: try Validate.seq(replyTo, field: "replyTo"))
            // The reply is the acknowledgement, and the row is committed by now.
            if let id = frame.id { connection.enqueue(.frame(Frames.reply(re: id, message: sent.message))) }
            events.publish(sent.outbox)
            await events.mention(sent)
        case .edit(let room, let seq, let text):
            let sent = try await store.editMessage(room: room, seq: seq, actor: connection.userId, text: try Validate.text(text))
            if let id = frame.id { connection.enqueue(.frame(Frames.reply(re: id, message: sent.message))) }
            events.publish(sent.outbox)
        case .react(let room, let seq, let emoji, let remove):
            let outbox = try await store.react(room: room, seq: seq, user: connection.userId, emoji: try Validate.emoji(emoji), on: !remove)
            if let reply { connection.enqueue(.frame(reply)) }
            events.publish(outbox)
        case .typing(let room):
            try await requireMember(connection.userId, room)
            try await bus.publish(try Frames.encode(.typing(room: room, user: connection.userId)), to: Channel.room(room))
            if let reply { connection.enqueue(.frame(reply)) }
        case .read(let room, let seq):
            let unread = try await store.markRead(room: room, user: connection.userId, seq: seq)
            if let reply { connection.enqueue(.frame(reply)) }
            if let unread { try await events.read(room: room, user: connection.userId, seq: seq, unread: unread) }
        case .auth(let token):
            let access = try await tokens.verify(token)
            // A socket lives in one session: signing out of it closes the socket, whatever token renewed it.
            guard access.userId == connection.userId, access.session == connection.session else {
                throw ParleyError(.unauthorized, "the token is another session's")
            }
            try await sessions.require(access)
            connection.tokenExpiry.withLock { $0 = access.expiresAt }
            if let reply { connection.enqueue(.frame(reply)) }
        case .ping:
            if let reply { connection.enqueue(.frame(reply)) }
        case .signal(let meeting, let to, let kind, let payload):
            // Behind other frames of the socket's; one that finds none waiting runs at once (`runAtOnce`).
            let result = await withCheckedContinuation { continuation in
                relay(meeting, to: to, kind: kind, payload: payload, connection) { continuation.resume(returning: $0) }
            }
            answer(frame, with: result, connection)
        // Meeting frames: membership of the meeting's room is checked by the store, attendance for `media`.
        case .meetingStart(let room):
            try replyWith(meeting: try await meetings.start(room: room, host: connection.userId).meeting)
        case .meetingAccept(let id):
            try replyWith(meeting: try await meetings.accept(id, user: connection.userId))
        case .meetingDecline(let id):
            try replyWith(meeting: try await meetings.decline(id, user: connection.userId))
        case .meetingEnd(let id):
            try replyWith(meeting: try await meetings.end(id, actor: connection.userId))
        case .meetingJoin(let id, let media):
            try replyWith(meeting: try await join(id, media: media.applied(to: MediaState()), connection))
        case .meetingLeave(let id):
            await hub.unattend(connection, meeting: id)
            await meetings.leave(id, conn: connection.id)
            if let reply { connection.enqueue(.frame(reply)) }
        case .media(let id, let change):
            try replyWith(attendee: try await meetings.media(id, conn: connection.id, change: change))
        }

        func replyWith(meeting: Meeting? = nil, attendee: Attendee? = nil) throws {
            guard let id = frame.id else { return }
            connection.enqueue(.frame(try Frames.reply(Reply(re: id, meeting: meeting, attendee: attendee))))
        }
    }

    /// Joins a meeting with a connection, which is in the meeting's audience before the join commits, so that no
    /// attendee event falls in between.
    private func join(_ id: String, media: MediaState, _ connection: Connection) async throws -> Meeting {
        // The recorder's socket attends the meeting of its job (its session), and no other.
        if connection.userId == User.recorderId {
            guard let job = try await store.recording(connection.session), job.meeting == id, job.state == .recording else {
                throw ParleyError.notFound("meeting")
            }
        }
        let room = try await store.meeting(id, viewer: connection.userId).room
        try await hub.attend(connection, meeting: id, room: room)
        do {
            return try await meetings.join(id, conn: connection.id, user: connection.userId, media: media)
        } catch {
            await hub.unattend(connection, meeting: id)
            throw error
        }
    }

    /// The recorder's socket attends the meetings it records, and does nothing else.
    static func requireRecorderFrame(_ body: ClientFrame.Body) throws {
        switch body {
        case .meetingJoin, .meetingLeave, .signal, .media, .auth, .ping: return
        default: throw ParleyError.forbidden("the recorder's socket only attends the meeting it records")
        }
    }

    /// A subscribe's rooms, each once, from the lowest `since` it was named with: a room named twice is replayed once.
    static func merged(_ cursors: [ClientFrame.RoomCursor]) -> [ClientFrame.RoomCursor] {
        var merged: [ClientFrame.RoomCursor] = []
        var index: [String: Int] = [:]
        for cursor in cursors {
            guard let at = index[cursor.room] else {
                index[cursor.room] = merged.count
                merged.append(cursor)
                continue
            }
            merged[at].since = min(merged[at].since ?? 0, cursor.since ?? 0)
        }
        return merged
    }

    private func requireMember(_ user: String, _ room: String) async throws {
        guard try await store.role(of: user, in: room) != nil else { throw ParleyError.notFound("room") }
    }
}
