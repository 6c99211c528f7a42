import Foundation
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

/// Three signed-up users: Alice owns a group with Bob and Carol, and has a direct room with Bob.
struct Trio {
    let alice: ParleyClient
    let bob: ParleyClient
    let carol: ParleyClient
    let group: String
    let direct: String

    static func make(api: String) async throws -> Trio {
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        var clients: [ParleyClient] = []
        for name in ["alice", "bob", "carol"] {
            let client = ParleyClient(baseURL: api)
            try await client.register(username: "\(name)\(suffix)", password: "password123", name: name.capitalized)
            clients.append(client)
        }
        let direct = try await clients[0].addContact(username: "bob\(suffix)").room
        let group = try await clients[0].createGroup(name: "Team", members: [clients[1].userId, clients[2].userId]).room.id
        return Trio(alice: clients[0], bob: clients[1], carol: clients[2], group: group, direct: direct)
    }
}

extension ParleyClient {
    var userId: String { currentSession!.user.id }
}

extension LiveClient {
    /// Waits for the next server frame of `type` that `match` accepts, decoded.
    func frame(
        _ type: String, within seconds: Double = 20, where match: @escaping @Sendable (JSONValue) -> Bool = { _ in true }
    ) async throws -> JSONValue {
        try await next(within: seconds) { event -> JSONValue? in
            guard case .event(let event) = event, event.kind.rawValue == type,
                let value = try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(event)), match(value)
            else { return nil }
            return value
        }
    }

    /// Waits for a meeting event about `meeting`.
    func meetingEvent(_ type: String, _ meeting: String, within seconds: Double = 20) async throws -> JSONValue {
        try await frame(type, within: seconds) { $0["meeting"]["id"].string == meeting || $0["meeting"].string == meeting }
    }

    /// Waits until connected and returns this connection's id.
    func hello(within seconds: Double = 20) async throws -> String {
        try await next(within: seconds) { event -> String? in
            if case .connected(let conn, _) = event { return conn }
            return nil
        }
    }
}

extension JSONValue {
    var attendeeConn: String? { self["attendee"]["conn"].string }
}

@Suite(
    "Meetings and signaling across nodes, on Postgres and Redis",
    .enabled(if: TestCluster.enabled, "needs PARLEY_TEST_DATABASE_URL and redis-server: run scripts/test"), .serialized)
struct MeetingClusterTests {
    @Test("a ring reaches every device of every member on both nodes; a decline ends it for all; a late callee sees the ring")
    func ringing() async throws {
        try await TestCluster.with { cluster in
            let trio = try await Trio.make(api: cluster.http("api-1"))
            let alice = LiveClient(rest: trio.alice, urls: [cluster.ws("ws-1")])
            let bobPhone = LiveClient(rest: trio.bob, urls: [cluster.ws("ws-2")])
            let bobLaptop = LiveClient(rest: trio.bob, urls: [cluster.ws("ws-1")])
            try await withLive([alice, bobPhone, bobLaptop]) {
                for client in [alice, bobPhone, bobLaptop] { _ = try await client.hello() }
                let call = try await alice.startMeeting(room: trio.direct)
                #expect(call.state == .ringing && call.host == trio.alice.userId)
                for device in [bobPhone, bobLaptop] {
                    let ring = try await device.meetingEvent("meeting.ringing", call.id)
                    #expect(ring["room"].string == trio.direct && ring["meeting"]["host"].string == trio.alice.userId)
                }
                // Dialling back at once joins the same call.
                #expect(try await trio.bob.startMeeting(room: trio.direct).id == call.id)
                #expect(try await trio.bob.rooms().first { $0.id == trio.direct }?.meeting?.id == call.id)

                try await trio.bob.declineMeeting(call.id)
                for client in [alice, bobPhone, bobLaptop] {
                    #expect(try await client.meetingEvent("meeting.ended", call.id)["reason"].string == "declined")
                }
                #expect(try await trio.bob.meetings().isEmpty)
            }

            // Bob is away while Alice calls the group; he sees the ring as soon as he connects.
            let meeting = try await trio.alice.startMeeting(room: trio.group)
            let late = LiveClient(rest: trio.bob, urls: [cluster.ws("ws-2")])
            try await withLive([late]) {
                let ring = try await late.meetingEvent("meeting.ringing", meeting.id)
                #expect(ring["meeting"]["state"].string == "ringing")
            }
        }
    }

    @Test("an unanswered ring becomes missed for everyone")
    func missed() async throws {
        try await TestCluster.with(settings: ["PARLEY_RING_TIMEOUT": "2"]) { cluster in
            let trio = try await Trio.make(api: cluster.http("api-1"))
            let alice = LiveClient(rest: trio.alice, urls: [cluster.ws("ws-1")])
            let bob = LiveClient(rest: trio.bob, urls: [cluster.ws("ws-2")])
            try await withLive([alice, bob]) {
                _ = try await alice.hello()
                _ = try await bob.hello()
                let call = try await trio.alice.startMeeting(room: trio.direct)
                _ = try await bob.meetingEvent("meeting.ringing", call.id)
                for client in [alice, bob] {
                    #expect(try await client.meetingEvent("meeting.ended", call.id, within: 10)["reason"].string == "missed")
                }
                #expect(try await trio.alice.meeting(call.id).state == .missed)
            }
        }
    }

    @Test("signals go from attendee to attendee across nodes with the sender set by the server; others are refused")
    func signaling() async throws {
        try await TestCluster.with(settings: ["PARLEY_MEETING_CAPACITY": "2"]) { cluster in
            let trio = try await Trio.make(api: cluster.http("api-1"))
            let alice = LiveClient(rest: trio.alice, urls: [cluster.ws("ws-1")])
            let bob = LiveClient(rest: trio.bob, urls: [cluster.ws("ws-2")])
            let carol = LiveClient(rest: trio.carol, urls: [cluster.ws("ws-2")])
            try await withLive([alice, bob, carol]) {
                let aliceConn = try await alice.hello()
                let bobConn = try await bob.hello()
                let carolConn = try await carol.hello()
                let meeting = try await alice.startMeeting(room: trio.group)
                try await alice.joinMeeting(meeting.id)
                let joined = try await bob.joinMeeting(meeting.id, media: MediaState(audio: true, video: false))
                #expect(joined.state == .active && joined.attendees.map(\.conn) == [aliceConn, bobConn])
                #expect(try await alice.frame("attendee.joined") { $0.attendeeConn == bobConn }["attendee"]["media"]["video"] == .bool(false))
                _ = try await carol.meetingEvent("meeting.active", meeting.id)

                let offer = JSONValue.object(["type": .string("offer"), "sdp": .string("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n")])
                try await bob.signal(meeting.id, to: aliceConn, kind: .offer, payload: offer)
                let relayed = try await alice.frame("signal")
                #expect(relayed["from"].string == bobConn && relayed["fromUser"].string == trio.bob.userId)
                #expect(relayed["kind"].string == "offer" && relayed["payload"] == offer)

                // A forged sender is ignored: the server sets `from` and `fromUser`.
                try await bob.sendRaw(
                    #"{"type":"signal","meeting":"\#(meeting.id)","to":"\#(aliceConn)","kind":"candidate","from":"\#(aliceConn)","#
                        + #""fromUser":"\#(trio.carol.userId)","payload":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}"#
                )
                let candidate = try await alice.frame("signal") { $0["kind"].string == "candidate" }
                #expect(candidate["from"].string == bobConn && candidate["fromUser"].string == trio.bob.userId)

                // A burst written back to back: the first runs at once on the socket's loop, those behind it wait in
                // its inbox and run in turn. All arrive, in order.
                for n in 1...20 {
                    try await bob.sendRaw(
                        #"{"type":"signal","meeting":"\#(meeting.id)","to":"\#(aliceConn)","kind":"candidate","payload":{"candidate":"c\#(n)"}}"#)
                }
                for n in 1...20 {
                    #expect(try await alice.frame("signal")["payload"]["candidate"].string == "c\(n)")
                }
                // A burst of signals that want replies: every one is answered ok.
                try await withThrowingTaskGroup { group in
                    for n in 1...20 {
                        group.addTask {
                            try await bob.signal(meeting.id, to: aliceConn, kind: .candidate, payload: .object(["candidate": .string("r\(n)")]))
                        }
                    }
                    try await group.waitForAll()
                }
                var answered: Set<String> = []
                for _ in 1...20 { answered.insert(try await alice.frame("signal")["payload"]["candidate"].string ?? "") }
                #expect(answered == Set((1...20).map { "r\($0)" }))

                // Carol is a member of the room, but not an attendee; the meeting is also full.
                await expectCode(.forbidden) { try await carol.signal(meeting.id, to: aliceConn, kind: .offer, payload: offer) }
                await expectCode(.meetingFull) { try await carol.joinMeeting(meeting.id) }
                await expectCode(.invalidField) { try await bob.signal(meeting.id, to: aliceConn, kind: .answer, payload: offer) }
                await expectCode(.peerGone) { try await bob.signal(meeting.id, to: "ws-1.999", kind: .bye, payload: .null) }
                // A live connection that does not attend: its node keeps the signal from it and answers the sender.
                try await alice.signal(meeting.id, to: carolConn, kind: .offer, payload: offer)
                let bounce = try await alice.frame("error") { $0["error"]["code"].string == "peer_gone" }
                #expect(bounce["meeting"].string == meeting.id && bounce["peer"].string == carolConn && bounce["to"].string == aliceConn)
                await #expect(throws: (any Error).self, "a non-attendee received a signal") { try await carol.frame("signal", within: 1) }

                try await bob.setMedia(meeting.id, MediaState(audio: false, video: false, screen: true))
                let media = try await alice.frame("attendee.media") { $0.attendeeConn == bobConn }
                #expect(media["attendee"]["media"] == .object(["audio": .bool(false), "video": .bool(false), "screen": .bool(true)]))

                try await bob.leaveMeeting(meeting.id)
                #expect(try await alice.frame("attendee.left")["attendee"]["user"].string == trio.bob.userId)
                await expectCode(.forbidden) { try await bob.signal(meeting.id, to: aliceConn, kind: .bye, payload: .null) }
            }
        }
    }

    @Test("a peer that drops mid-call and a WS node killed with SIGKILL leave no attendee and no meeting behind within 15 s")
    func noGhosts() async throws {
        try await TestCluster.with(ws: 3) { cluster in
            let trio = try await Trio.make(api: cluster.http("api-1"))
            let alice = LiveClient(rest: trio.alice, urls: [cluster.ws("ws-1")])
            let bob = LiveClient(rest: trio.bob, urls: [cluster.ws("ws-2")])
            let carol = LiveClient(rest: trio.carol, urls: [cluster.ws("ws-3")])
            try await withLive([alice, bob]) {
                let aliceConn = try await alice.hello()
                _ = try await bob.hello()
                let meeting = try await alice.startMeeting(room: trio.group)
                try await alice.joinMeeting(meeting.id)
                try await bob.joinMeeting(meeting.id)

                // Carol's client goes away mid-call, without leaving.
                let carolTask = Task { await carol.run() }
                let carolConn = try await carol.hello()
                try await carol.joinMeeting(meeting.id)
                _ = try await alice.frame("attendee.joined") { $0.attendeeConn == carolConn }
                carolTask.cancel()
                for survivor in [alice, bob] {
                    _ = try await survivor.frame("attendee.left", within: 15) { $0.attendeeConn == carolConn }
                }

                // Then Alice's whole node dies.
                await cluster.kill("ws-1")
                let killedAt = ContinuousClock.now
                _ = try await bob.frame("attendee.left", within: 15) { $0.attendeeConn == aliceConn }
                print("meetings: a killed node's attendee left \(ContinuousClock.now - killedAt) after the kill")
                #expect(try await trio.bob.meeting(meeting.id).attendees.map(\.user) == [trio.bob.userId])

                // And then Bob's, the last one in the meeting: nothing of it survives.
                await cluster.kill("ws-2")
                var state = try await trio.carol.meeting(meeting.id)
                try await waitUntil("the meeting closes", within: .seconds(15)) {
                    state = try await trio.carol.meeting(meeting.id)
                    return !state.state.isOpen
                }
                #expect(state.state == .ended && state.endReason == .empty && state.attendees.isEmpty)
                #expect(try await trio.carol.meetings().isEmpty)
            }
        }
    }
}

/// Expects `body` to throw a `ParleyError` with `code`.
func expectCode(_ code: ParleyError.Code, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("expected \(code), but it succeeded", sourceLocation: sourceLocation)
    } catch let error as ParleyError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
