import Foundation
import ParleyCore
import Testing

/// The protocol's types against their wire form and against docs/protocol.md.
@Suite("The wire protocol as types")
struct ProtocolTests {
    static let user = User(id: "u_1", username: "alice", name: "Alice")
    static let message = Message(room: "r_1", seq: 42, clientId: "c_1", sender: "u_1", text: "hi", sentAt: Timestamp(milliseconds: 1_700_000_000_000))
    static let attendee = Attendee(
        conn: "ws-1~a.1", user: "u_1", media: MediaState(video: false), joinedAt: Timestamp(milliseconds: 1_700_000_000_500))
    static let meeting = Meeting(
        id: "m_1", room: "r_1", host: "u_1", state: .active, startedAt: Timestamp(milliseconds: 1_700_000_000_000),
        ringsUntil: Timestamp(milliseconds: 1_700_000_045_000), attendees: [attendee])
    static let room = RoomSummary(
        id: "r_1", kind: .group, name: "Team", peer: nil, role: .owner, lastSeq: 42, lastMessage: message, unread: 0,
        createdAt: Timestamp(milliseconds: 1_700_000_000_000))

    /// One event of every kind.
    static let events: [Event] = [
        .hello(Hello(conn: "ws-1~a.1", user: "u_1", node: "ws-1", heartbeatMs: 30000)),
        .messageCreated(message),
        .messageDeleted(Message(room: "r_1", seq: 7, clientId: "c_2", sender: "u_1", text: nil, sentAt: message.sentAt, deletedAt: message.sentAt)),
        .messageEdited(Message(room: "r_1", seq: 8, clientId: "c_3", sender: "u_1", text: "fixed", sentAt: message.sentAt, editedAt: message.sentAt)),
        .messageCreated(Message(room: "r_1", seq: 9, clientId: "c_4", sender: "u_2", text: "yes", sentAt: message.sentAt, replyTo: 8)),
        .messageCreated(
            Message(room: "r_1", seq: 10, clientId: "c_5", sender: "u_1", text: nil, sentAt: message.sentAt,
                call: CallEntry(meeting: "m_1", outcome: .answered, durationMs: 61_000))),
        .reactionAdded(ReactionChange(room: "r_1", seq: 8, user: "u_2", emoji: "👍🏽")),
        .reactionRemoved(ReactionChange(room: "r_1", seq: 8, user: "u_2", emoji: "👍🏽")),
        .mention(Mention(room: "r_1", seq: 9, sender: "u_2", text: "@alice yes")),
        .roomRead(room: "r_1", seq: 9, unread: 0),
        .replayDone(room: "r_1", truncated: true),
        .roomAdded(room, by: "u_2"), .roomUpdated(room), .roomRemoved(room: "r_1"),
        .memberAdded(room: "r_1", member: Member(user: user, role: .admin, lastReadSeq: 3)), .memberRemoved(room: "r_1", user: "u_2"),
        .presence(room: "r_1", user: "u_2", online: false), .typing(room: "r_1", user: "u_2"), .read(room: "r_1", user: "u_2", seq: 41),
        .meetingRinging(meeting), .meetingActive(meeting), .meetingEnded(meeting, reason: .declined),
        .attendeeJoined(AttendeeChange(room: "r_1", meeting: "m_1", attendee: attendee)),
        .attendeeLeft(AttendeeChange(room: "r_1", meeting: "m_1", attendee: attendee)),
        .attendeeMedia(AttendeeChange(room: "r_1", meeting: "m_1", attendee: attendee)),
        .recordingStarted(RecordingNotice(room: "r_1", meeting: "m_1", by: "u_a")),
        .recordingStopped(RecordingNotice(room: "r_1", meeting: "m_1", reason: .recorderLost)),
        .recordingReady(
            RecordingNotice(room: "r_1", meeting: "m_1", file: FileRef(id: "f_1", name: "recording.webm", size: 1000, contentType: "video/webm"))
        ),
        .signal(
            RelayedSignal(meeting: "m_1", from: "ws-1~a.1", fromUser: "u_1", to: "ws-2~b.2", kind: .offer, payload: .object(["sdp": .string("v=0")]))),
        .error(ErrorFrame(re: "7", ParleyError(.notFound, "room not found"))), .error(ErrorFrame(re: "8", ParleyError.invalid("text", "must not be blank"))),
        .error(ErrorFrame(ParleyError(.peerGone, "gone"), to: "ws-1~a.1", peer: "ws-2~b.2", meeting: "m_1")),
        .sessionClosed(session: "f_1"), .sessionClosed(session: nil), .sessionsRevoked(["f_1", "f_2"]),
    ]

    /// A reply that was edited, to a message since deleted, with reactions: every field a message may have but files.
    static let reply: Message = {
        var reply = Message(
            room: "r_1", seq: 9, clientId: "c_9", sender: "u_2", text: "yes, \"noon\"", sentAt: message.sentAt, replyTo: 8, editedAt: message.sentAt)
        reply.quoted = Quote(sender: "u_1", text: nil, deleted: true)
        reply.reactions = [Reaction(emoji: "👍🏽", users: ["u_1", "u_2"]), Reaction(emoji: "🎉", users: ["u_2"])]
        return reply
    }()

    static let call = Message(
        room: "r_1", seq: 10, clientId: "c_10", sender: "u_1", text: nil, sentAt: message.sentAt,
        call: CallEntry(meeting: "m_1", outcome: .answered, durationMs: 61_000))

    /// One frame of every kind.
    static let frames: [ClientFrame.Body] = [
        .subscribe([.init(room: "r_1", since: 41), .init(room: "r_2")]), .unsubscribe(["r_1"]),
        .send(room: "r_1", clientId: "c_1", text: "hi"), .send(room: "r_1", clientId: "c_2", text: "yes", replyTo: 41),
        .edit(room: "r_1", seq: 41, text: "fixed"), .react(room: "r_1", seq: 41, emoji: "🎉"), .react(room: "r_1", seq: 41, emoji: "🎉", remove: true), .typing(room: "r_1"), .read(room: "r_1", seq: 42), .auth(token: "a.b.c"), .ping,
        .meetingStart(room: "r_1"), .meetingAccept(meeting: "m_1"), .meetingDecline(meeting: "m_1"), .meetingEnd(meeting: "m_1"),
        .meetingJoin(meeting: "m_1", media: .init(audio: true, video: false)), .meetingLeave(meeting: "m_1"),
        .media(meeting: "m_1", .init(screen: true)),
        .signal(meeting: "m_1", to: "ws-2~b.2", kind: .candidate, payload: .object(["candidate": .string("")])),
    ]

    @Test("every event kind reads back as it was written, fields flat beside its type")
    func events() throws {
        #expect(Set(Self.events.map(\.kind)) == Set(Event.Kind.allCases))
        for event in Self.events {
            let json = try JSONEncoder().encode(event)
            #expect(try JSONDecoder().decode(Event.self, from: json) == event, "\(String(decoding: json, as: UTF8.self))")
            let object = try JSONDecoder().decode(JSONValue.self, from: json)
            #expect(object["type"].string == event.kind.rawValue)
            #expect(try JSONDecoder().decode(ServerFrame.self, from: json) == .event(event))
        }
    }

    @Test("a reply reads back as a reply, and a failed frame's error as an event that names it")
    func replies() throws {
        for reply in [
            Reply(re: "1"), Reply(re: "2", message: Self.message), Reply(re: "3", meeting: Self.meeting), Reply(re: "4", attendee: Self.attendee),
            Reply(re: "5", message: Self.reply), Reply(re: "6", message: Self.call),
        ] {
            #expect(try JSONDecoder().decode(ServerFrame.self, from: JSONEncoder().encode(reply)) == .reply(reply))
            var json = JSONText()
            json.reply(re: reply.re, message: reply.message)
            if reply.meeting == nil, reply.attendee == nil {
                #expect(try JSONDecoder().decode(ServerFrame.self, from: Data(json.bytes)) == .reply(reply))
            }
        }
    }

    @Test("every frame kind reads back from what a Swift client writes")
    func frames() throws {
        #expect(Set(Self.frames.map { ClientFrame($0).kind }) == Set(ClientFrame.Kind.allCases))
        for body in Self.frames {
            let json = try JSONEncoder().encode(ClientFrame(id: "9", body))
            #expect(try json.withUnsafeBytes { try ClientFrame(json: $0) } == ClientFrame(id: "9", body), "\(String(decoding: json, as: UTF8.self))")
        }
    }

    @Test("docs/protocol.md names every frame and every event a client sees")
    func documented() throws {
        let doc = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/protocol.md"), encoding: .utf8)
        let nodeOnly: Set<Event.Kind> = [.sessionClosed, .sessionsRevoked]
        for kind in Event.Kind.allCases where !nodeOnly.contains(kind) {
            #expect(doc.contains("`\(kind.rawValue)"), "docs/protocol.md does not name the event \(kind.rawValue)")
        }
        for kind in ClientFrame.Kind.allCases {
            #expect(doc.contains("`\(kind.rawValue)"), "docs/protocol.md does not name the frame \(kind.rawValue)")
        }
    }
}
