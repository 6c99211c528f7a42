import Foundation
import Logging
import ParleyCore
import ServiceLifecycle

/// The `Store` over SQL, the same code for Postgres and for SQLite: the driver supplies the connection and the
/// dialect, and the few statements that differ ask the dialect.
public final class SQLStore: Store {
    let database: any SQLDatabase
    let logger: Logger
    /// Concurrent sends, committed together.
    let sends = Batcher<SendRequest, Sent>(concurrency: 2, maxSize: 256)
    /// Published outbox rows, deleted together, mostly by the next batch of sends (see `markPublished`).
    let published = PublishedRows()
    /// Told when published rows start to wait for their deletion, which `run` carries out.
    let (publishedRowsWaiting, publishedRowsWait) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// Concurrent membership checks (frames and replays are authorized by them), read together: a reconnect storm
    /// asks thousands at once.
    let roleReads = Batcher<Membership, Role?>(concurrency: 2, maxSize: 256)
    /// Concurrent reads of room pages (each subscribe's replay), read together; the same page asked twice in a
    /// batch is read once. A read joins only a batch that starts after it was asked, so a replay sees every
    /// message committed before its subscribe.
    let pageReads = Batcher<RoomPage, [Message]>(concurrency: 2, maxSize: 256)
    /// Concurrent reads of users' open meetings (each new socket's greeting), read together.
    let openMeetingReads = Batcher<String, [Meeting]>(concurrency: 2, maxSize: 256)
    /// Concurrent session checks (every REST request and socket that a node has not seen lately), read together:
    /// a reconnect storm asks thousands at once.
    let sessionReads = Batcher<SessionOf, Bool>(concurrency: 2, maxSize: 256)
    /// Concurrent attendance checks (every signal makes two), read together.
    let attendeeReads = Batcher<Attendance, Attendee?>(concurrency: 2, maxSize: 256)

    public init(database: any SQLDatabase, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// A store on Postgres, pooled, with `warmConnections` of the pool opened at start and kept (see
    /// `PostgresDriver`).
    public static func postgres(
        url: String, maximumConnections: Int = PostgresDriver.defaultMaximumConnections, warmConnections: Int = 0,
        applicationName: String = "parley", searchPath: String? = nil, logger: Logger
    ) throws -> SQLStore {
        let database = try PostgresDriver(
            url: url, maximumConnections: maximumConnections, warmConnections: warmConnections, applicationName: applicationName,
            searchPath: searchPath, logger: logger)
        return SQLStore(database: database, logger: logger)
    }

    /// A store in one SQLite file, created when missing.
    public static func sqlite(path: String, logger: Logger) async throws -> SQLStore {
        SQLStore(database: try await SQLiteDriver.open(path: path, logger: logger), logger: logger)
    }

    public var dialect: SQLDialect { database.dialect }

    /// Runs the database, and the deletion of published outbox rows beside it, until the node shuts down.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.database.run() }
            group.addTask { await self.deletePublishedRows() }
            defer { group.cancelAll() }
            try await group.next()
        }
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

    /// `count` placeholders for an `IN` list: `?, ?, ?`.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// `count` rows of `columns` placeholders for a `VALUES` list: `(?, ?), (?, ?)`. Both dialects name the
    /// columns of a `VALUES` list `column1`, `column2`, and so on.
    static func values(_ count: Int, _ columns: Int) -> String {
        Array(repeating: "(\(placeholders(columns)))", count: count).joined(separator: ", ")
    }
}

extension SQLExecutor {
    /// The roles of the given memberships that exist.
    func roles(_ memberships: some Collection<Membership>) async throws -> [Membership: Role] {
        let rows = try await query(
            "SELECT rm.room_id, rm.user_id, rm.role FROM room_members rm JOIN (VALUES \(SQLStore.values(memberships.count, 2))) AS v"
                + " ON rm.room_id = v.column1 AND rm.user_id = v.column2",
            memberships.flatMap { [.text($0.room), .text($0.user)] })
        var roles: [Membership: Role] = [:]
        for row in rows {
            roles[Membership(room: try row.text(0), user: try row.text(1))] = Role(rawValue: try row.text(2))
        }
        return roles
    }

    /// The actor's role in a room. Throws `not_found` for a non-member, so that the room's existence stays hidden.
    func role(of user: String, in room: String) async throws -> Role {
        guard let row = try await first("SELECT role FROM room_members WHERE room_id = ? AND user_id = ?", [.text(room), .text(user)]),
            let role = Role(rawValue: try row.text(0))
        else { throw ParleyError.notFound("room") }
        return role
    }

    /// Writes an event to the outbox, to be published on `channel` after commit.
    func enqueue(_ event: Event, on channel: String, now: Timestamp) async throws -> OutboxEntry {
        try await enqueue([(event, channel)], now: now)[0]
    }

    /// Writes events to the outbox in one statement, and gives their entries in the same order.
    func enqueue(_ events: [(Event, channel: String)], now: Timestamp) async throws -> [OutboxEntry] {
        let encoder = JSONEncoder()
        let rows = try events.map { event, channel in (channel, String(decoding: try encoder.encode(event), as: UTF8.self)) }
        // The rows of one `VALUES` list take their ids from the sequence in list order, so the ids sorted are the
        // rows' ids in order, whatever order `RETURNING` gives them in.
        let ids = try await query(
            "INSERT INTO outbox (channel, payload, created_at) VALUES \(SQLStore.values(rows.count, 3)) RETURNING id",
            rows.flatMap { [.text($0.0), .text($0.1), .int(now.milliseconds)] }
        ).map { try $0.int(0) }.sorted()
        return zip(ids, rows).map { OutboxEntry(id: $0, channel: $1.0, payload: $1.1) }
    }
}
