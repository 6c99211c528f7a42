import ServiceLifecycle

/// Runs statements. Statements use `?` placeholders in both dialects; the Postgres driver numbers them.
public protocol SQLExecutor: Sendable {
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]

    /// Runs a statement that the database may parse and plan once per connection rather than on every call.
    func query<Statement: PreparedSQL>(_ statement: Statement.Type, _ binds: [SQLValue]) async throws -> [SQLRow]
}

/// A statement run often enough to prepare: Postgres parses and plans it once per connection, under `name`, and
/// then only binds and executes it. Placeholders are `?`, as elsewhere.
public protocol PreparedSQL {
    static var name: String { get }
    static var sql: String { get }
}

extension SQLExecutor {
    /// Where the driver prepares nothing, the statement runs as any other.
    public func query<Statement: PreparedSQL>(_ statement: Statement.Type, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await query(Statement.sql, binds)
    }

    public func execute(_ sql: String, _ binds: [SQLValue] = []) async throws {
        _ = try await query(sql, binds)
    }

    public func first(_ sql: String, _ binds: [SQLValue] = []) async throws -> SQLRow? {
        try await query(sql, binds).first
    }
}

/// Where the two SQL dialects differ, in the few statements Parley has that are not portable.
public enum SQLDialect: String, Sendable {
    case postgres
    case sqlite

    /// Appended to a `SELECT` that locks the rows it reads until the transaction ends. SQLite locks the whole
    /// database for a writing transaction, so it needs no clause.
    public var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }

    /// Appended to a `SELECT` so that concurrent workers take different rows rather than wait for each other.
    public var forUpdateSkipLocked: String { self == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }
}

/// A database that lends executors, on their own or inside a transaction.
///
/// It is a `Service`: the application runs it, so that a connection pool lives exactly as long as the node.
public protocol SQLDatabase: Service {
    var dialect: SQLDialect { get }

    /// Lends an executor for a few statements that need no transaction.
    func withExecutor<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R

    /// Lends an executor inside a transaction: committed when `body` returns, rolled back when it throws.
    func withTransaction<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R
}
