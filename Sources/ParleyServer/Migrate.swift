import Logging
import ParleyStore
import ServiceLifecycle

/// `parley migrate`: applies the store's missing migrations and returns their versions.
public func runMigrations(_ configuration: Configuration, logger: Logger) async throws -> [String] {
    let store = try await makeStore(configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        // The store serves only while it runs (Postgres pools its connections in `run`).
        group.addTask { try await store.run() }
        defer { group.cancelAll() }
        return try await store.migrate()
    }
}
