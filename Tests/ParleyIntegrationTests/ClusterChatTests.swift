import Foundation
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@Suite(
    "Chat across nodes, on Postgres and Redis",
    .enabled(if: TestCluster.enabled, "needs PARLEY_TEST_DATABASE_URL and redis-server: run scripts/test"), .serialized)
struct ClusterChatTests {
    @Test("users on two WS nodes chat both ways, and a REST send on the API node reaches both")
    func chatAcrossNodes() async throws {
        try await TestCluster.with { cluster in
            let pair = try await LivePair.make(api: cluster.http("api-1"), ws: [cluster.ws("ws-1")], wsForBob: [cluster.ws("ws-2")])
            try await withLive([pair.alice, pair.bob]) {
                #expect(try await pair.alice.connected() == "ws-1")
                #expect(try await pair.bob.connected() == "ws-2")
                try await pair.alice.follow(pair.room)
                try await pair.bob.follow(pair.room)

                try await pair.alice.send(room: pair.room, text: "from node 1")
                #expect(try await pair.bob.nextMessages(1).map(\.text) == ["from node 1"])
                try await pair.bob.send(room: pair.room, text: "from node 2")
                #expect(try await pair.alice.nextMessages(2).map(\.text) == ["from node 1", "from node 2"])
                #expect(try await pair.bob.nextMessages(1).map(\.text) == ["from node 2"])

                try await pair.alice.rest.send(room: pair.room, text: "via the API node")
                #expect(try await pair.alice.nextMessages(1).map(\.seq) == [3])
                #expect(try await pair.bob.nextMessages(1).map(\.text) == ["via the API node"])
            }
        }
    }

    @Test("a client away for 100 messages reconnects to the other node with since and gets exactly those, then live ones")
    func resumeOnTheOtherNode() async throws {
        try await TestCluster.with { cluster in
            let pair = try await LivePair.make(api: cluster.http("api-1"), ws: [cluster.ws("ws-1")], wsForBob: [cluster.ws("ws-2")])
            let lastSeen: Int64 = try await withLive([pair.bob]) {
                _ = try await pair.bob.connected()
                try await pair.bob.follow(pair.room)
                try await pair.alice.rest.send(room: pair.room, text: "before")
                _ = try await pair.bob.nextMessages(1)
                return try #require(pair.bob.lastSeq(pair.room))
            }
            #expect(lastSeen == 1)
            for n in 1...100 {
                try await pair.alice.rest.send(room: pair.room, text: "missed \(n)")
            }
            // Bob comes back on the other node, holding seq 1.
            let bob = LiveClient(rest: pair.bob.rest, urls: [cluster.ws("ws-1")])
            try await withLive([bob]) {
                #expect(try await bob.connected() == "ws-1")
                try await bob.follow(pair.room, since: lastSeen)
                let missed = try await bob.nextMessages(100)
                #expect(missed.map(\.seq) == Array(2...101))
                #expect(missed.map(\.text) == (1...100).map { "missed \($0)" })
                try await pair.alice.rest.send(room: pair.room, text: "live again")
                #expect(try await bob.nextMessages(1).map(\.seq) == [102])
            }
        }
    }

    @Test("a non-member cannot subscribe or send, and learns nothing about the room")
    func nonMembers() async throws {
        try await TestCluster.with(ws: 1) { cluster in
            let pair = try await LivePair.make(api: cluster.http("api-1"), ws: [cluster.ws("ws-1")])
            let eveRest = ParleyClient(baseURL: cluster.http("api-1"))
            try await eveRest.register(username: "eve\(UUID().uuidString.prefix(6).lowercased())", password: "password123", name: "Eve")
            let eve = LiveClient(rest: eveRest, urls: [cluster.ws("ws-1")])
            try await withLive([eve]) {
                _ = try await eve.connected()
                for frame: ClientFrame.Body in [
                    .subscribe([.init(room: pair.room, since: 0)]),
                    .send(room: pair.room, clientId: UUID().uuidString, text: "let me in"),
                    .typing(room: pair.room),
                    .read(room: pair.room, seq: 1),
                    .subscribe([.init(room: "r_doesnotexist", since: 0)]),
                ] {
                    await #expect(throws: ParleyError(.notFound, "room not found")) { try await eve.request(frame) }
                }
                await #expect(throws: ParleyError(.badRequest, "unknown frame type 'dance'")) {
                    try await eve.request(json: ["type": .string("dance")])
                }
            }
            let history = try await pair.alice.rest.messages(room: pair.room)
            #expect(history.isEmpty)
        }
    }
}
