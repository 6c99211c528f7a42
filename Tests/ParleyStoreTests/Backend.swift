import Foundation
import Logging
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyStore

/// The two stores the conformance suite runs against. Postgres is `PARLEY_TEST_DATABASE_URL`, which `scripts/test`
/// sets after starting a throwaway server (without it the Postgres cases are skipped and say so); each test gets a
/// schema of its own.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// Runs `body` with a migrated, running store of this kind, then stops the store and removes its file or schema
    /// (a schema is kept when `body` fails). `connections` caps a Postgres store's pool.
    func withStore<R: Sendable>(
        connections: Int = PostgresDriver.defaultMaximumConnections, _ body: (SQLStore) async throws -> R
    ) async throws -> R {
        let logger = Self.logger
        switch self {
        case .sqlite:
            let path = scratchSQLitePath("parley")
            defer { removeSQLite(at: path) }
            return try await Self.running(try await SQLStore.sqlite(path: path, logger: logger)) { store in
                _ = try await store.migrate()
                return try await body(store)
            }
        case .postgres:
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let store = try SQLStore.postgres(
                url: try TestServers.postgres.require(), maximumConnections: connections, searchPath: schema, logger: logger)
            return try await Self.running(store) { store in
                try await store.database.withExecutor { try await $0.execute("CREATE SCHEMA \(schema)") }
                _ = try await store.migrate()
                let result = try await body(store)
                try await store.database.withExecutor { try await $0.execute("DROP SCHEMA \(schema) CASCADE") }
                return result
            }
        }
    }

    /// The stores' logger: warnings and worse.
    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }

    /// Runs `body` while `store` runs (its pool, or its SQLite thread), then stops it.
    static func running<R: Sendable>(_ store: SQLStore, _ body: (SQLStore) async throws -> R) async throws -> R {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }
}

/// Sign-ups for tests: a user whose username is unique within the store.
extension SQLStore {
    func makeUser(_ name: String) async throws -> User {
        try await createUser(username: name.lowercased(), name: name, passwordHash: "not-a-real-hash")
    }
}

/// Expects `body` to throw a `ParleyError` with `code`.
func expectError<R>(_ code: ParleyError.Code, _ body: () async throws -> R, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        _ = try await body()
        Issue.record("expected \(code), but it succeeded", sourceLocation: sourceLocation)
    } catch let error as ParleyError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
