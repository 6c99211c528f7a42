import Logging
import NIOCore
import SQLiteNIO
import ServiceLifecycle

/// SQLite in one file through sqlite-nio, for the embedded default.
///
/// One connection serves the node, and a `SerialGate` lets one transaction at a time use it. SQLite serialises
/// writers anyway, and one node is the only process that opens the file.
public final class SQLiteDriver: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let connection: SQLiteConnection
    private let gate = SerialGate()

    public static func open(path: String, logger: Logger) async throws -> SQLiteDriver {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let executor = SQLiteExecutor(connection: connection)
        do {
            try await executor.execute("PRAGMA journal_mode = WAL")
            try await executor.execute("PRAGMA foreign_keys = ON")
            try await executor.execute("PRAGMA busy_timeout = 5000")
        } catch {
            try? await connection.close()
            throw error
        }
        return SQLiteDriver(connection: connection)
    }

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    public func run() async throws {
        // Nothing runs in the background; the connection closes when the node shuts down.
        try? await gracefulShutdown()
        // The future-based close, because the async one does nothing once the task is cancelled, and a connection
        // must be closed before it goes away.
        let closed: EventLoopFuture<Void> = connection.close()
        try await closed.get()
    }

    public func withExecutor<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R {
        try await gate.run { try await body(SQLiteExecutor(connection: connection)) }
    }

    public func withTransaction<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R {
        try await gate.run {
            let executor = SQLiteExecutor(connection: connection)
            try await executor.execute("BEGIN IMMEDIATE")
            do {
                let result = try await body(executor)
                try await executor.execute("COMMIT")
                return result
            } catch {
                try? await executor.execute("ROLLBACK")
                throw error
            }
        }
    }
}

struct SQLiteExecutor: SQLExecutor {
    let connection: SQLiteConnection

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .int(let int): .integer(SQLiteInt64(int))
            case .text(let text): .text(text)
            case .null: .null
            }
        }
        do {
            return try await connection.query(sql, data).map { row in
                SQLRow(
                    row.columns.map { column in
                        switch column.data {
                        case .integer(let int): .int(Int64(int))
                        case .float(let double): .int(Int64(double))
                        case .text(let text): .text(text)
                        case .blob(let buffer): .text(String(buffer: buffer))
                        case .null: .null
                        }
                    })
            }
        } catch let error as SQLiteError
            where error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed
        {
            throw SQLError(code: .uniqueViolation, detail: error.message)
        }
    }
}
