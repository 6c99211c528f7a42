import Foundation
import Logging
import ParleyCore
import ServiceLifecycle

/// The `Store` over SQL, the same code for Postgres and for SQLite: the driver supplies the connection and the
/// dialect, and the few statements that differ ask the dialect.
public final class SQLStore: Store {
    let database: any SQLDatabase
    let logger: Logger

    public init(database: any SQLDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// A store on Postgres, pooled.
    public static func postgres(url: String, searchPath: String? = nil, logger: Logger) throws -> SQLStore {
        SQLStore(database: try PostgresDriver(url: url, searchPath: searchPath, logger: logger), logger: logger)
    }

    /// A store in one SQLite file, created when missing.
    public static func sqlite(path: String, logger: Logger) async throws -> SQLStore {
        SQLStore(database: try await SQLiteDriver.open(path: path, logger: logger), logger: logger)
    }

    public var dialect: SQLDialect { database.dialect }

    public func run() async throws {
        try await database.run()
    }

    public func migrate() async throws -> [String] {
        try await Migrator(database: database).migrate()
    }

    public func ping() async throws {
        try await database.withExecutor { try await $0.execute("SELECT 1") }
    }

    /// Runs `body` in a transaction, turning a unique-key clash into `conflict`.
    func transaction<R: Sendable>(
        conflict: String = "already exists", _ body: (any SQLExecutor) async throws -> R
    ) async throws -> R {
        do {
            return try await database.withTransaction(body)
        } catch let error as SQLError where error.code == .uniqueViolation {
            throw ParleyError(.conflict, conflict)
        }
    }

    func read<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R {
        try await database.withExecutor(body)
    }
}

extension SQLExecutor {
    /// The actor's role in a room. Throws `not_found` for a non-member, so that the room's existence stays hidden.
    func role(of user: String, in room: String) async throws -> Role {
        guard let row = try await first("SELECT role FROM room_members WHERE room_id = ? AND user_id = ?", [.text(room), .text(user)]),
            let role = Role(rawValue: try row.text(0))
        else { throw ParleyError.notFound("room") }
        return role
    }

    /// Writes an event to the outbox, to be published on `channel` after commit.
    func enqueue(_ event: Event, on channel: String, now: Timestamp) async throws -> OutboxEntry {
        let payload = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        let row = try await first(
            "INSERT INTO outbox (channel, payload, created_at) VALUES (?, ?, ?) RETURNING id",
            [.text(channel), .text(payload), .int(now.milliseconds)])
        return OutboxEntry(id: try row!.int(0), channel: channel, payload: payload)
    }
}
