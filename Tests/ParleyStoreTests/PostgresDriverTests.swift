import Foundation
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyStore

/// What the Postgres driver does for speed, seen from Postgres itself: the pool's warm connections in
/// `pg_stat_activity`, and the sends' prepared statements in `pg_prepared_statements`.
@Suite("The Postgres driver", .enabled(if: TestServers.postgres.enabled, "needs PARLEY_TEST_DATABASE_URL: run scripts/test"))
struct PostgresDriverTests {
    @Test("a pool opens its warm connections at start, and no more than its queries need", arguments: [0, 3])
    func warmConnections(warm: Int) async throws {
        let name = "parley-test-\(UUID().uuidString.prefix(8))"
        let store = try SQLStore.postgres(
            url: try TestServers.postgres.require(), warmConnections: warm, applicationName: name, logger: Backend.logger)
        try await Backend.running(store) { store in
            // The query takes a connection of its own name, so at least one is open however many are warm.
            let expected = Int64(max(warm, 1))
            var open: Int64 = 0
            try await waitUntil("the pool opens \(expected) connections") {
                open = try await store.database.withExecutor { sql in
                    try await sql.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", [.text(name)])
                        .first?.int(0) ?? 0
                }
                return open >= expected
            }
            #expect(open == expected)
        }
    }

    @Test("sends run as statements prepared once per connection, alone and in batches")
    func sendsArePrepared() async throws {
        // One connection, so that the sends and the look at its prepared statements share a session; with two
        // batches at most in flight, 50 concurrent sends make a batch of more than one.
        try await Backend.postgres.withStore(connections: 1) { store in
            let alice = try await store.makeUser("Alice")
            let room = try await store.createGroup(owner: alice.id, name: "Notes", members: []).room.id
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<50 {
                    group.addTask { _ = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "m\(n)") }
                }
                try await group.waitForAll()
            }
            #expect(try await store.messages(room: room, viewer: alice.id, page: Page(limit: 100)).map(\.seq) == Array(1...50))
            let prepared = try await store.database.withExecutor { sql in
                try await sql.query("SELECT name, statement FROM pg_prepared_statements ORDER BY name", [])
                    .map { "\(try $0.text(0)): \(try $0.text(1))" }
            }
            #expect(prepared.count == 2)
            #expect(prepared.first?.hasPrefix("parley_send_batch: SELECT ord,") == true)
            #expect(prepared.last?.hasPrefix("parley_send_one: SELECT 1,") == true)
        }
    }
}
