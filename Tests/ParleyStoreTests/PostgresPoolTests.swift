import Foundation
import Testing

@testable import ParleyStore

/// The pool's warm connections, counted by Postgres itself in `pg_stat_activity`.
@Suite(.enabled(if: Backend.postgresURL != nil))
struct PostgresPoolTests {
    @Test("a pool opens its warm connections at start, and no more than its queries need", arguments: [0, 3])
    func warmConnections(warm: Int) async throws {
        let name = "parley-test-\(UUID().uuidString.prefix(8))"
        let store = try SQLStore.postgres(
            url: try #require(Backend.postgresURL), warmConnections: warm, applicationName: name, logger: Backend.logger)
        try await Backend.running(store) { store in
            // The query takes a connection of its own name, so at least one is open however many are warm.
            let expected = Int64(max(warm, 1))
            var open: Int64 = 0
            for _ in 0..<100 {
                open = try await store.database.withExecutor { sql in
                    try await sql.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", [.text(name)])
                        .first?.int(0) ?? 0
                }
                if open >= expected { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(open == expected)
        }
    }
}
