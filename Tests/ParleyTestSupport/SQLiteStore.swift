import Logging
import ParleyStore

/// Runs `body` with a fresh, migrated SQLite store of the test's own, running for as long as `body` does, and removes
/// its file afterwards.
public func withSQLiteStore(_ body: (SQLStore) async throws -> Void) async throws {
    let path = scratchSQLitePath("store")
    defer { removeSQLite(at: path) }
    let store = try await SQLStore.sqlite(path: path, logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await store.run() }
        defer { group.cancelAll() }
        _ = try await store.migrate()
        try await body(store)
    }
}
