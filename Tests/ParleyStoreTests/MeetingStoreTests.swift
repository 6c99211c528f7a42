import ParleyCore
import Testing

@testable import ParleyStore

@Suite("Meetings, on every store")
struct MeetingStoreTests {
    /// Alice and Bob with their direct room, and a group of Alice, Bob and Carol.
    struct People {
        let alice: User
        let bob: User
        let carol: User
        let direct: String
        let group: String

        static func make(_ store: SQLStore) async throws -> People {
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let carol = try await store.makeUser("Carol")
            let direct = try await store.addContact(owner: alice.id, username: "bob").contact.room
            let group = try await store.createGroup(owner: alice.id, name: "Team", members: [bob.id, carol.id]).room.id
            return People(alice: alice, bob: bob, carol: carol, direct: direct, group: group)
        }
    }

    static func attendee(_ conn: String, _ user: User) -> Attendee {
        Attendee(conn: conn, user: user.id, media: MediaState(), joinedAt: .now)
    }

    @Test("dialling twice, or both sides at once, ends up in one meeting, which the room list shows", arguments: Backend.allCases)
    func oneMeetingPerRoom(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let first = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45)
            let again = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45)
            #expect(first.created && !again.created && again.change.meeting.id == first.change.meeting.id)
            #expect(first.change.meeting.state == .ringing && Set(first.change.members) == [people.alice.id, people.bob.id])

            // Both sides at once, in another room.
            async let fromBob = store.startMeeting(room: people.group, host: people.bob.id, ringSeconds: 45)
            async let fromCarol = store.startMeeting(room: people.group, host: people.carol.id, ringSeconds: 45)
            let (bobs, carols) = try await (fromBob, fromCarol)
            #expect(bobs.change.meeting.id == carols.change.meeting.id && bobs.created != carols.created)

            let rooms = try await store.rooms(of: people.bob.id)
            #expect(rooms.first { $0.id == people.direct }?.meeting?.id == first.change.meeting.id)
            #expect(rooms.first { $0.id == people.group }?.meeting?.id == bobs.change.meeting.id)
            #expect(try await store.openMeetings(of: people.carol.id).map(\.id) == [bobs.change.meeting.id])
            await expectError(.notFound) {
                try await store.meeting(first.change.meeting.id, viewer: people.carol.id)
            }
        }
    }

    @Test("anyone but the host joining answers; the last attendee leaving ends it, and a room can ring again", arguments: Backend.allCases)
    func joinAndLeave(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45).change.meeting
            let hostJoined = try await store.joinMeeting(meeting.id, attendee: Self.attendee("n1.1", people.alice), capacity: 8)
            #expect(!hostJoined.stateChanged && hostJoined.meeting.state == .ringing)
            let answered = try await store.joinMeeting(meeting.id, attendee: Self.attendee("n2.1", people.bob), capacity: 8)
            #expect(answered.stateChanged && answered.meeting.state == .active)
            #expect(answered.meeting.attendees.map(\.conn) == ["n1.1", "n2.1"])
            // Joining again changes nothing.
            let again = try await store.joinMeeting(meeting.id, attendee: Self.attendee("n2.1", people.bob), capacity: 8)
            #expect(!again.stateChanged && again.meeting.attendees.count == 2)

            let updated = try await store.updateMedia(meeting.id, conn: "n1.1", media: MediaState(audio: true, video: false, screen: true))
            #expect(updated.media == MediaState(audio: true, video: false, screen: true))

            let first = try #require(try await store.leaveMeeting(meeting.id, conn: "n1.1"))
            #expect(!first.stateChanged && first.left.map(\.conn) == ["n1.1"] && first.meeting.state == .active)
            #expect(try await store.leaveMeeting(meeting.id, conn: "n1.1") == nil)
            let last = try #require(try await store.leaveMeeting(meeting.id, conn: "n2.1"))
            #expect(last.stateChanged && last.meeting.state == .ended && last.meeting.endReason == .empty)
            await expectError(.meetingEnded) {
                try await store.joinMeeting(meeting.id, attendee: Self.attendee("n2.2", people.bob), capacity: 8)
            }
            #expect(try await store.openMeetings(of: people.bob.id).isEmpty)
            #expect(try await store.startMeeting(room: people.direct, host: people.bob.id, ringSeconds: 45).created)
        }
    }

    @Test("a full meeting refuses the next attendee; the caller hanging up before an answer cancels", arguments: Backend.allCases)
    func capacityAndCancel(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await store.startMeeting(room: people.group, host: people.alice.id, ringSeconds: 45).change.meeting
            _ = try await store.joinMeeting(meeting.id, attendee: Self.attendee("n1.1", people.alice), capacity: 2)
            _ = try await store.joinMeeting(meeting.id, attendee: Self.attendee("n1.2", people.bob), capacity: 2)
            await expectError(.meetingFull) {
                try await store.joinMeeting(meeting.id, attendee: Self.attendee("n1.3", people.carol), capacity: 2)
            }

            let call = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45).change.meeting
            _ = try await store.joinMeeting(call.id, attendee: Self.attendee("n1.4", people.alice), capacity: 8)
            let hungUp = try #require(try await store.leaveMeeting(call.id, conn: "n1.4"))
            #expect(hungUp.meeting.state == .ended && hungUp.meeting.endReason == .cancelled)
        }
    }

    @Test("a decline ends a direct ring; a group rings until every callee declined", arguments: Backend.allCases)
    func declines(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let call = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45).change.meeting
            let declined = try await store.declineMeeting(call.id, user: people.bob.id)
            #expect(declined.stateChanged && declined.meeting.state == .declined)
            await expectError(.meetingEnded) { try await store.acceptMeeting(call.id, user: people.bob.id) }

            let group = try await store.startMeeting(room: people.group, host: people.alice.id, ringSeconds: 45).change.meeting
            let bobDeclines = try await store.declineMeeting(group.id, user: people.bob.id)
            #expect(!bobDeclines.stateChanged && bobDeclines.meeting.state == .ringing)
            // The ring stops for Bob alone.
            #expect(try await store.openMeetings(of: people.bob.id).isEmpty)
            #expect(try await store.openMeetings(of: people.carol.id).map(\.id) == [group.id])
            let carolDeclines = try await store.declineMeeting(group.id, user: people.carol.id)
            #expect(carolDeclines.stateChanged && carolDeclines.meeting.state == .declined)
        }
    }

    @Test("many sockets greeted, authorized and signalling at once are read together, and each gets its own answer", arguments: Backend.allCases)
    func batchedReads(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            // A direct call ringing Bob, and a group meeting that Alice attends and Bob declined.
            let call = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45).change.meeting
            let group = try await store.startMeeting(room: people.group, host: people.alice.id, ringSeconds: 45).change.meeting
            _ = try await store.joinMeeting(group.id, attendee: Self.attendee("n1.1", people.alice), capacity: 8)
            _ = try await store.declineMeeting(group.id, user: people.bob.id)
            let users = [people.alice, people.bob, people.carol]
            // Each read alone first, as a batch of one.
            var meetings: [String: [String]] = [:]
            var roles: [String: Role?] = [:]
            for user in users {
                meetings[user.id] = try await store.openMeetings(of: user.id).map(\.id)
                for room in [people.direct, people.group] { roles[user.id + room] = try await store.role(of: user.id, in: room) }
            }
            #expect(Set(meetings[people.alice.id]!) == [call.id, group.id])
            #expect(meetings[people.bob.id] == [call.id] && meetings[people.carol.id] == [group.id])
            #expect(roles[people.carol.id + people.direct]! == nil && roles.values.filter { $0 != nil }.count == 5)

            let (alone, aloneRoles) = (meetings, roles)
            let mismatches = try await withThrowingTaskGroup(of: String?.self) { tasks in
                for n in 0..<300 {
                    let user = users[n % 3]
                    tasks.addTask {
                        let open = try await store.openMeetings(of: user.id)
                        // Where the group meeting is listed, with its one attendee.
                        guard open.map(\.id) == alone[user.id],
                            open.first(where: { $0.id == group.id })?.attendees.map(\.conn) ?? ["n1.1"] == ["n1.1"]
                        else { return "\(user.name): \(open.map(\.id))" }
                        return nil
                    }
                    let (meeting, conn) = [(group.id, "n1.1"), (group.id, "n9.9"), (call.id, "n1.1")][n % 3]
                    tasks.addTask {
                        let attendee = try await store.attendee(meeting, conn: conn)
                        let expected = meeting == group.id && conn == "n1.1" ? people.alice.id : nil
                        return attendee?.user == expected ? nil : "attendee \(conn) of \(meeting): \(String(describing: attendee))"
                    }
                    let room = n % 2 == 0 ? people.direct : people.group
                    tasks.addTask {
                        let role = try await store.role(of: user.id, in: room)
                        return role == aloneRoles[user.id + room]! ? nil : "\(user.name) in \(room): \(String(describing: role))"
                    }
                }
                return try await tasks.reduce(into: [String]()) { if let mismatch = $1 { $0.append(mismatch) } }
            }
            #expect(mismatches.isEmpty)
        }
    }

    @Test("accepting makes a ring active; only the host or a group admin ends it", arguments: Backend.allCases)
    func acceptAndEnd(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await store.startMeeting(room: people.group, host: people.bob.id, ringSeconds: 45).change.meeting
            #expect(!(try await store.acceptMeeting(meeting.id, user: people.bob.id)).stateChanged)
            let accepted = try await store.acceptMeeting(meeting.id, user: people.carol.id)
            #expect(accepted.stateChanged && accepted.meeting.state == .active)
            await expectError(.forbidden) { try await store.endMeeting(meeting.id, actor: people.carol.id) }
            // Alice owns the group.
            let ended = try await store.endMeeting(meeting.id, actor: people.alice.id)
            #expect(ended.stateChanged && ended.meeting.endReason == .ended)
            #expect(!(try await store.endMeeting(meeting.id, actor: people.alice.id)).stateChanged)
        }
    }

    @Test("rings past their time become missed; a dead node's attendees leave and empty meetings end", arguments: Backend.allCases)
    func sweeps(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let ring = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 0).change.meeting
            let missed = try await store.expireRings(now: Timestamp.now.adding(seconds: 1))
            #expect(missed.map(\.meeting.id) == [ring.id] && missed.first?.meeting.state == .missed)
            #expect(try await store.expireRings(now: Timestamp.now.adding(seconds: 1)).isEmpty)

            let meeting = try await store.startMeeting(room: people.group, host: people.alice.id, ringSeconds: 45).change.meeting
            _ = try await store.joinMeeting(meeting.id, attendee: Self.attendee("dead.1", people.alice), capacity: 8)
            _ = try await store.joinMeeting(meeting.id, attendee: Self.attendee("dead.2", people.bob), capacity: 8)
            _ = try await store.joinMeeting(meeting.id, attendee: Self.attendee("live.1", people.carol), capacity: 8)
            #expect(try await store.attendeeNodes() == ["dead", "live"])
            let partly = try await store.removeAttendees(node: "dead")
            #expect(partly.count == 1 && Set(partly[0].left.map(\.conn)) == ["dead.1", "dead.2"] && partly[0].meeting.state == .active)
            let emptied = try await store.removeAttendees(node: "live")
            #expect(emptied.first?.meeting.state == .ended && emptied.first?.meeting.endReason == .empty)
            #expect(try await store.attendeeNodes().isEmpty)
        }
    }
}
