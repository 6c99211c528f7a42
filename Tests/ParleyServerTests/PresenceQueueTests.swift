import Logging
import ParleyBus
import ParleyStore
import ParleyTestSupport
import Testing

@testable import ParleyServer

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
                try await waitUntil("Alice's announcement waits at the gate") { publishes.waiting == 1 }
                presence.update(user: bob.id, online: true)
                try await waitUntil("Bob is recorded online while Alice's announcement waits") { try await bus.isOnline(user: bob.id) }
                #expect(publishes.waiting == 1, "Bob's announcement went out before Alice's")
                publishes.open()
            }
        }
    }
}
