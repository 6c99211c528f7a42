import Foundation
import Logging
import Testing

@testable import ParleyStore

/// The pool's warm connections, counted by Postgres itself in `pg_stat_activity`.
@Suite(.enabled(if: Backend.postgresURL != nil))
struct PostgresPoolTests {
    @Test("a pool opens its warm connections at start, and no more than its queries need", arguments: [0, 3])
    func warmConnections(warm: Int) async throws {
        let name = "parley-test-\(UUID().uuidString.prefix(8))"
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let driver = try PostgresDriver(url: try #require(Backend.postgresURL), warmConnections: warm, applicationName: name, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await driver.run() }
            defer { group.cancelAll() }
            // The query takes a connection of its own name, so at least one is open however many are warm.
            let expected = Int64(max(warm, 1))
            var open: Int64 = 0
            for _ in 0..<100 {
                open = try await driver.withExecutor { sql in
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
