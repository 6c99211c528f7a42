import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("Presence, on Redis", .enabled(if: TestServers.redisServer.enabled, "needs redis-server: run scripts/test"))
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
            try await waitUntil("the bus connects and the doomed node beats") {
                (try? await bus.heartbeat(node: "ws-1~dead", ttl: .milliseconds(100))) != nil
            }
            _ = try await bus.recordOnline(user: carol.id, node: "ws-1~dead")
            try await waitUntil("the doomed node's beat lapses") { try await !bus.isAlive(node: "ws-1~dead") }
            let survivor = Presence(nodeId: "ws-2~t", bus: bus, store: store, holdsConnections: true, logger: logger) { [] }

            try await bus.withSubscription { subscription in
                try await subscription.subscribe([Channel.room(room)])
                group.addTask { try await survivor.run() }
                // The survivor beats, then sweeps and sees the dead node; Carol is back on the survivor before the
                // grace it gives the dead node ends.
                try await waitUntil("the survivor beats") { try await bus.isAlive(node: "ws-2~t") }
                survivor.update(user: carol.id, online: true)
                // The grace, and a few sweeps for the one that comes after it.
                let claimed = Presence.claimGrace + Presence.beat * Presence.sweepEvery * 3
                try await waitUntil("the survivor claims the dead node", within: claimed) { try await bus.deadNodes().isEmpty }
                #expect(try await bus.isOnline(user: carol.id))
                #expect(await Deliveries(subscription).next(within: 1) == nil, "presence was announced")
            }
        }
    }
}
