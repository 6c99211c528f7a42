import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// Postgres through postgres-nio's pooled `PostgresClient`.
public final class PostgresDriver: SQLDatabase {
    public let dialect = SQLDialect.postgres
    private let client: PostgresClient
    private let logger: Logger

    /// The pool's size unless a caller gives another; also the most warm connections a node may ask for.
    public static let defaultMaximumConnections = 20

    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/database`.
    ///   - warmConnections: connections the pool opens at start and keeps. postgres-nio schedules an idle timer (a
    ///     task group, two child tasks and a Dispatch timer) each time any other connection goes back to the pool.
    ///   - applicationName: what `pg_stat_activity` shows for these connections.
    ///   - searchPath: a schema to use instead of `public`; the tests give each suite its own.
    public init(
        url: String, maximumConnections: Int = defaultMaximumConnections, warmConnections: Int = 0,
        applicationName: String = "parley", searchPath: String? = nil, logger: Logger
    ) throws {
        var configuration = try Self.configuration(url: url)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(warmConnections, maximumConnections)
        // No keep-alive queries: the pool would schedule the keep-alive's timer each time it takes a connection back
        // (a task group, two child tasks and a Dispatch timer, cancelled again at the next lease), on every stored
        // send. A connection that Postgres or the network closed is still noticed when its channel closes.
        configuration.options.keepAliveBehavior = nil
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        if let searchPath {
            configuration.options.additionalStartupParameters.append(("search_path", "\(searchPath),public"))
        }
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    public func run() async throws {
        await client.run()
    }

    /// Reads `postgres://user:password@host:port/database?sslmode=disable|prefer|require`. TLS is off unless asked
    /// for, as the nodes and Postgres usually share a private network.
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
            let host = components.host, let user = components.user
        else { throw StoreError(description: "DATABASE_URL must look like postgres://user:password@host:port/database") }
        let tls: PostgresClient.Configuration.TLS =
            switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value {
            case "require": .require(.makeClientConfiguration())
            case "prefer": .prefer(.makeClientConfiguration())
            default: .disable
            }
        let database = components.path.drop(while: { $0 == "/" })
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : String(database), tls: tls)
    }

    public func withExecutor<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R {
        try await client.withConnection { connection in
            try await body(PostgresExecutor(connection: connection, logger: logger))
        }
    }

    public func withTransaction<R: Sendable>(_ body: (any SQLExecutor) async throws -> R) async throws -> R {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(PostgresExecutor(connection: connection, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            // Surface the error of the statement that failed rather than the wrapper, so that callers can act on it.
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }
}

struct PostgresExecutor: SQLExecutor {
    let connection: PostgresConnection
    let logger: Logger

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let query = PostgresQuery(unsafeSQL: Self.numberPlaceholders(sql), binds: Self.bindings(binds))
        return try await Self.mappingErrors {
            // All rows collected on the connection's event loop, then one resumption: iterating the async row
            // sequence instead costs a hop per batch of rows and one for its end.
            let result: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
            return try await result.get().rows.map { SQLRow(try $0.map(Self.value)) }
        }
    }

    /// Prepared once per connection by postgres-nio, which names it `Statement.name`. postgres-nio hands a prepared
    /// statement's rows over only as an async sequence, which costs the node a little more per call than `query`'s
    /// future; Postgres saves more, as it parses and plans the call once per connection.
    func query<Statement: PreparedSQL>(_ statement: Statement.Type, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await Self.mappingErrors {
            var rows: [SQLRow] = []
            for try await row in try await connection.execute(Prepared<Statement>(bindings: Self.bindings(binds)), logger: logger) {
                rows.append(row)
            }
            return rows
        }
    }

    private struct Prepared<Statement: PreparedSQL>: PostgresPreparedStatement {
        static var name: String { Statement.name }
        static var sql: String { PostgresExecutor.numberPlaceholders(Statement.sql) }
        let bindings: PostgresBindings

        func makeBindings() -> PostgresBindings { bindings }
        func decodeRow(_ row: PostgresRow) throws -> SQLRow { SQLRow(try row.map(PostgresExecutor.value)) }
    }

    private static func bindings(_ binds: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .int(let int): bindings.append(int)
            case .text(let text): bindings.append(text)
            case .null: bindings.appendNull()
            }
        }
        return bindings
    }

    private static func mappingErrors<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw SQLError(code: .uniqueViolation, detail: error.serverInfo?[.constraintName] ?? "unique")
        }
    }

    private static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .int(try cell.decode(Int64.self))
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        default: return .text(try cell.decode(String.self))
        }
    }

    /// Turns `?` placeholders into Postgres's `$1, $2, …`, leaving quoted literals alone. Byte by byte: both marks
    /// are ASCII, which no other character's UTF-8 contains, and every query pays for this, so no grapheme breaking.
    static func numberPlaceholders(_ sql: String) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quoted = false
        for byte in sql.utf8 {
            if byte == UInt8(ascii: "'") { quoted.toggle() }
            if byte == UInt8(ascii: "?") && !quoted {
                number += 1
                result.append(UInt8(ascii: "$"))
                result.append(contentsOf: String(number).utf8)
            } else {
                result.append(byte)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
