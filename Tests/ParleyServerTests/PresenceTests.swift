import Foundation
import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("Presence", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server")))
struct PresenceTests {
    @Test("a killed node's user who reconnects elsewhere within the claim's grace is announced neither offline nor online")
    func backWithinTheGrace() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        try await redis.start()
        let logger = Logger(label: "test")
        let bus = try RedisBus(url: redis.url, logger: logger)
        let path = scratchSQLitePath("presence")
        defer { removeSQLite(at: path) }
        let store = try await SQLStore.sqlite(path: path, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await bus.run() }
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            _ = try await store.migrate()
            let bob = try await store.createUser(username: "bob", name: "Bob", passwordHash: "-")
            let carol = try await store.createUser(username: "carol", name: "Carol", passwordHash: "-")
            let room = try await store.addContact(owner: bob.id, username: "carol").contact.room

            // Carol was online on a node whose beat has lapsed when the survivor starts.
            for attempt in 0..<100 {
                do {
                    try await bus.heartbeat(node: "ws-1~dead", ttl: .milliseconds(100))
                    break
                } catch  where attempt < 99 { try await Task.sleep(for: .milliseconds(50)) }
            }
            _ = try await bus.recordOnline(user: carol.id, node: "ws-1~dead")
            try await Task.sleep(for: .milliseconds(300))
            let survivor = Presence(nodeId: "ws-2~t", bus: bus, store: store, holdsConnections: true, logger: logger) { [] }

            try await bus.withSubscription { subscription in
                try await subscription.subscribe([Channel.room(room)])
                group.addTask { try await survivor.run() }
                // The survivor's first sweep sees the dead node; Carol is back on the survivor before the grace ends.
                try await Task.sleep(for: .milliseconds(2500))
                survivor.update(user: carol.id, online: true)
                try await Task.sleep(for: Presence.claimGrace)
                #expect(try await bus.deadNodes().isEmpty, "the dead node was not claimed")
                #expect(try await bus.isOnline(user: carol.id))
                #expect(await Deliveries(subscription).next(within: 1) == nil, "presence was announced")
            }
        }
    }
}

@Suite("Presence, on the in-process bus")
struct PresenceQueueTests {
    @Test("a change is recorded while the announcement of the one before it is still on its way")
    func recordingDoesNotWaitForAnnouncing() async throws {
        let publishes = Gate()
        let bus = GatedBus(publishes: publishes)
        try await withSQLiteStore { store in
            let alice = try await store.createUser(username: "alice", name: "Alice", passwordHash: "-")
            let bob = try await store.createUser(username: "bob", name: "Bob", passwordHash: "-")
            _ = try await store.addContact(owner: alice.id, username: "bob")
            let presence = Presence(nodeId: "ws-1~t", bus: bus, store: store, holdsConnections: true, logger: Logger(label: "test")) { [] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await presence.run() }
                defer { group.cancelAll() }

                // Alice coming online is news: its announcement waits at the closed gate.
                presence.update(user: alice.id, online: true)
                try await waitUntil { publishes.waiting == 1 }
                presence.update(user: bob.id, online: true)
                var recorded = false
                for _ in 0..<500 where !recorded {
                    recorded = try await bus.isOnline(user: bob.id)
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(recorded, "Bob was not recorded while Alice's announcement waited")
                #expect(publishes.waiting == 1, "Bob's announcement went out before Alice's")
                publishes.open()
            }
        }
    }
}
