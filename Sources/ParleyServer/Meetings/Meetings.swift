import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore

/// Meetings as REST and the gateway both run them: each change is committed first, then announced.
///
/// - `meeting.ringing`, `meeting.active` and `meeting.ended` go to every member's user channel, so that every
///   device of every member hears them, whichever rooms it subscribes to.
/// - `attendee.*` go to the room's channel, and the hubs hand them to the local attendees of the meeting only.
///
/// Announcements are best effort: what they say is in the store, and a client that connects (or reconnects)
/// gets its open meetings again after `hello`.
struct Meetings: Sendable {
    let store: any Store
    let bus: any Bus
    let logger: Logger
    let ringSeconds: Int64
    let capacity: Int

    init(_ configuration: Configuration, store: any Store, bus: any Bus, logger: Logger) {
        self.store = store
        self.bus = bus
        self.logger = logger
        self.ringSeconds = Int64(configuration.ringTimeout)
        self.capacity = configuration.meetingCapacity
    }

    func start(room: String, host: String) async throws -> (meeting: Meeting, created: Bool) {
        let (change, created) = try await store.startMeeting(room: room, host: host, ringSeconds: ringSeconds)
        await announce(change)
        return (change.meeting, created)
    }

    func accept(_ meeting: String, user: String) async throws -> Meeting {
        let change = try await store.acceptMeeting(meeting, user: user)
        await announce(change)
        return change.meeting
    }

    /// A decline that leaves others ringing still ends the ring on the decliner's own devices.
    func decline(_ meeting: String, user: String) async throws -> Meeting {
        let change = try await store.declineMeeting(meeting, user: user)
        if change.stateChanged {
            await announce(change)
        } else if change.meeting.state == .ringing {
            await publish(.meetingEnded(change.meeting, reason: .declined), to: Channel.user(user))
        }
        return change.meeting
    }

    func end(_ meeting: String, actor: String) async throws -> Meeting {
        let change = try await store.endMeeting(meeting, actor: actor)
        await announce(change)
        return change.meeting
    }

    func join(_ meeting: String, conn: String, user: String, media: MediaState) async throws -> Meeting {
        let attendee = Attendee(conn: conn, user: user, media: media, joinedAt: .now)
        let change = try await store.joinMeeting(meeting, attendee: attendee, capacity: capacity)
        if let joined = change.meeting.attendees.first(where: { $0.conn == conn }) {
            let room = change.meeting.room
            await publish(.attendeeJoined(AttendeeChange(room: room, meeting: meeting, attendee: joined)), to: Channel.room(room))
        }
        await announce(change)
        return change.meeting
    }

    /// The connections `user` attends the open meetings of `room` with; none when the store cannot tell.
    func attendance(of user: String, in room: String) async -> [(meeting: String, conn: String)] {
        let meetings = (try? await store.openMeetings(of: user)) ?? []
        return meetings.filter { $0.room == room }.flatMap { meeting in
            meeting.attendees.filter { $0.user == user }.map { (meeting.id, $0.conn) }
        }
    }

    /// Takes a connection out of a meeting; nothing happens when it was not in it.
    func leave(_ meeting: String, conn: String) async {
        do {
            if let change = try await store.leaveMeeting(meeting, conn: conn) { await announce(change) }
        } catch {
            logger.warning("could not take a connection out of its meeting", metadata: ["meeting": "\(meeting)", "error": "\(error)"])
        }
    }

    func media(_ meeting: String, conn: String, change: ClientFrame.MediaChange) async throws -> Attendee {
        guard let current = try await store.attendee(meeting, conn: conn) else { throw ParleyError.notFound("meeting attendance") }
        let attendee = try await store.updateMedia(meeting, conn: conn, media: change.applied(to: current.media))
        let room = try await store.meeting(meeting, viewer: attendee.user).room
        await publish(.attendeeMedia(AttendeeChange(room: room, meeting: meeting, attendee: attendee)), to: Channel.room(room))
        return attendee
    }

    /// Relays a signal from one attendee's connection to another's, on the target's node; `attends` says whether
    /// the sender's connection attends the meeting (its node knows, without a store read). The target's node
    /// delivers it only if the target attends the meeting, and otherwise answers the sender with a `peer_gone`
    /// error frame; when the target's node is gone, the sender learns at once. Throws what is wrong with the
    /// signal; `then` gets the publish's outcome, on the bus's thread.
    func signal(
        _ meeting: String, to target: String, kind: SignalKind, payload: JSONValue?, from conn: String, user: String,
        attends: (String) -> Bool, then: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) throws {
        try kind.validate(payload)
        guard attends(meeting) else {
            throw ParleyError.forbidden("only attendees of the meeting signal in it; join it first")
        }
        let relayed = RelayedSignal(meeting: meeting, from: conn, fromUser: user, to: target, kind: kind, payload: payload)
        bus.publish(Frames.signal(relayed), to: Channel.node(Attendee.node(of: target))) { receivers in
            then(
                receivers.flatMap { count in
                    count > 0 ? .success(()) : .failure(ParleyError(.peerGone, "connection \(target) is gone: its node stopped"))
                })
        }
    }

    /// Publishes what a committed change means to the people it concerns.
    func announce(_ change: MeetingChange) async {
        let meeting = change.meeting
        EventPublisher(bus: bus, store: store, logger: logger).publish(change.timeline)
        for attendee in change.left {
            await publish(.attendeeLeft(AttendeeChange(room: meeting.room, meeting: meeting.id, attendee: attendee)), to: Channel.room(meeting.room))
        }
        if let recording = change.stoppedRecording {
            await publish(
                .recordingStopped(RecordingNotice(room: meeting.room, meeting: meeting.id, reason: recording.stopReason)),
                to: Channel.room(meeting.room))
        }
        guard change.stateChanged else { return }
        for member in change.members {
            await publish(.meeting(meeting), to: Channel.user(member))
        }
    }

    func publish(_ event: Event, to channel: String) async {
        do {
            try await bus.publish(try Frames.encode(event), to: channel)
        } catch {
            logger.warning("could not announce a meeting change", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
    }
}
