import Foundation
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

/// Two signed-up users with live connections to the same node, and their direct room.
struct LivePair {
    let alice: LiveClient
    let bob: LiveClient
    let room: String

    static func make(api: String, ws: [String], wsForBob: [String]? = nil) async throws -> LivePair {
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let alice = ParleyClient(baseURL: api)
        let bob = ParleyClient(baseURL: api)
        try await alice.register(username: "alice\(suffix)", password: "password123", name: "Alice")
        try await bob.register(username: "bob\(suffix)", password: "password123", name: "Bob")
        let room = try await alice.addContact(username: "bob\(suffix)").room
        return LivePair(alice: LiveClient(rest: alice, urls: ws), bob: LiveClient(rest: bob, urls: wsForBob ?? ws), room: room)
    }
}

extension LiveClient {
    /// Waits for the next event that `match` accepts, skipping the others.
    func next<T: Sendable>(within seconds: Double = 20, _ match: @escaping @Sendable (LiveEvent) -> T?) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask {
                for await event in self.events {
                    if let value = match(event) { return value }
                }
                throw NodeError(description: "events ended")
            }
            // The bound of the wait on the events, not a wait itself.
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw NodeError(description: "no matching event within \(seconds) s")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Waits for `count` messages.
    func nextMessages(_ count: Int, within seconds: Double = 20) async throws -> [Message] {
        let deadline = Date().addingTimeInterval(seconds)
        var received: [Message] = []
        while received.count < count {
            received.append(
                try await next(within: deadline.timeIntervalSinceNow) { event -> Message? in
                    if case .message(let message) = event { return message }
                    return nil
                })
        }
        return received
    }

    /// Waits until connected (the `hello` arrived) and returns the node.
    func connected(within seconds: Double = 20) async throws -> String {
        try await next(within: seconds) { event -> String? in
            if case .connected(_, let node) = event { return node }
            return nil
        }
    }
}

/// Runs `body` while the clients keep their connections, and stops them afterwards.
func withLive<R: Sendable>(_ clients: [LiveClient], _ body: () async throws -> R) async throws -> R {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients { group.addTask { await client.run() } }
        defer { group.cancelAll() }
        return try await body()
    }
}

@Suite("Live chat on one embedded node")
struct LiveEmbeddedTests {
    @Test("`parley` with no environment chats live over WebSocket")
    func embeddedLive() async throws {
        try await NodeProcess.withEmbedded { node in
            let pair = try await LivePair.make(api: node.baseURL, ws: [node.webSocketURL])
            try await withLive([pair.alice, pair.bob]) {
                _ = try await pair.alice.connected()
                _ = try await pair.bob.connected()
                try await pair.alice.follow(pair.room)
                try await pair.bob.follow(pair.room)
                let sent = try await pair.alice.send(room: pair.room, text: "hello live")
                #expect(sent.seq == 1)
                #expect(try await pair.bob.nextMessages(1).map(\.text) == ["hello live"])
                #expect(try await pair.alice.nextMessages(1).map(\.seq) == [1])
                try await pair.bob.rest.send(room: pair.room, text: "over REST")
                #expect(try await pair.alice.nextMessages(1).map(\.text) == ["over REST"])
            }
        }
    }

    @Test("a room's events to 64 or more sockets share a held flush under load, and all arrive in order; replies are not held")
    func heldFanOutFlush() async throws {
        let environment = ["PARLEY_EVENT_LOOPS": "1", "PARLEY_FANOUT_FLUSH_WINDOW_MS": "1000", "PARLEY_MAX_SOCKETS_PER_USER": "100"]
        try await NodeProcess.withEmbedded(environment: environment) { node in
            let pair = try await LivePair.make(api: node.baseURL, ws: [node.webSocketURL])
            // 70 sockets of Bob's, on the node's one event loop: a large fan-out.
            let sockets = (0..<70).map { _ in LiveClient(rest: pair.bob.rest, urls: [node.webSocketURL]) }
            // Bob and Alice come online, and are announced, before Bob's 70 sockets follow the room: so no large
            // fan-out comes before the five below, and the first of them is flushed at once.
            try await withLive([pair.bob]) {
                _ = try await pair.bob.connected()
                try await pair.bob.follow(pair.room)
                try await withLive([pair.alice] + sockets) {
                    _ = try await pair.alice.connected()
                    try await pair.alice.follow(pair.room)
                    // Announcements go out in the order they came: once Alice's reaches Bob, his own is out too.
                    try await pair.bob.waitForPresence(of: try #require(pair.alice.rest.currentSession?.user.id), online: true)
                    for socket in sockets {
                        _ = try await socket.connected()
                        try await socket.follow(pair.room)
                    }
                    let texts = (1...5).map { "held \($0)" }
                    let (acked, arrivals) = try await withThrowingTaskGroup(of: [(String, ContinuousClock.Instant)].self) { group in
                        for socket in sockets {
                            group.addTask {
                                var arrivals: [(String, ContinuousClock.Instant)] = []
                                for _ in texts { arrivals += try await socket.nextMessages(1).map { ($0.text ?? "", .now) } }
                                return arrivals
                            }
                        }
                        for text in texts { _ = try await pair.alice.send(room: pair.room, text: text) }
                        let acked = ContinuousClock.now
                        return (acked, try await group.reduce(into: []) { $0.append($1) })
                    }
                    #expect(arrivals.count == sockets.count)
                    for socket in arrivals {
                        #expect(socket.map(\.0) == texts)
                        // The first event is flushed at once; the rest wait for the window after it, and the acks of
                        // all five do not.
                        #expect(socket[1].1 - socket[0].1 > .milliseconds(500))
                        #expect(acked < socket[1].1)
                    }
                }
            }
        }
    }

    @Test("typing, read, deletions, presence, and room and member changes reach live clients")
    func events() async throws {
        try await NodeProcess.withEmbedded { node in try await Self.events(base: node.baseURL, url: node.webSocketURL) }
    }

    static func events(base: String, url: String) async throws {
        let pair = try await LivePair.make(api: base, ws: [url])
        let alice = try #require(pair.alice.rest.currentSession?.user)
        let bob = try #require(pair.bob.rest.currentSession?.user)
        let carol = try await ParleyClient(baseURL: base).register(
            username: "carol\(UUID().uuidString.prefix(6).lowercased())", password: "password123", name: "Carol"
        ).user

        try await withLive([pair.bob]) {
            _ = try await pair.bob.connected()
            try await pair.bob.follow(pair.room)
            let aliceLive = LiveClient(rest: pair.alice.rest, urls: [url])
            try await withLive([aliceLive]) {
                _ = try await aliceLive.connected()
                try await pair.bob.waitForPresence(of: alice.id, online: true)
                try await aliceLive.follow(pair.room)

                _ = try await aliceLive.request(.typing(room: pair.room))
                _ = try await pair.bob.next { event -> Bool? in
                    if case .event(.typing(pair.room, alice.id)) = event { return true }
                    return nil
                }
                let sent = try await aliceLive.send(room: pair.room, text: "regret")
                _ = try await pair.bob.nextMessages(1)
                _ = try await pair.bob.request(.read(room: pair.room, seq: sent.seq))
                #expect(try await pair.bob.rest.rooms().first { $0.id == pair.room }?.unread == 0)
                _ = try await pair.alice.rest.deleteMessage(room: pair.room, seq: sent.seq)
                let deleted = try await pair.bob.next { event -> Message? in
                    if case .event(.messageDeleted(let message)) = event { return message }
                    return nil
                }
                #expect(deleted.seq == sent.seq && deleted.text == nil)
            }
            try await pair.bob.waitForPresence(of: alice.id, online: false)

            let group = try await pair.alice.rest.createGroup(name: "Plans", members: [bob.id]).room.id
            let added = try await pair.bob.next { event -> RoomSummary? in
                if case .event(.roomAdded(let room, _)) = event, room.id == group { return room }
                return nil
            }
            #expect(added.name == "Plans")
            try await pair.bob.follow(group)
            _ = try await pair.alice.rest.addMember(room: group, user: carol.id)
            _ = try await pair.bob.next { event -> Bool? in
                if case .event(.memberAdded(group, let member)) = event, member.user.id == carol.id { return true }
                return nil
            }
            try await pair.alice.rest.removeMember(room: group, user: bob.id)
            _ = try await pair.bob.next { event -> Bool? in
                if case .event(.roomRemoved(group)) = event { return true }
                return nil
            }
            // Gone from the room, Bob hears no more of it.
            try await pair.alice.rest.send(room: group, text: "without bob")
            try await pair.alice.rest.send(room: pair.room, text: "to bob")
            #expect(try await pair.bob.nextMessages(1).map(\.text) == ["to bob"])
        }
    }
}
