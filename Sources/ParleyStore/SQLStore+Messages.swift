import Foundation
import ParleyCore

extension SQLStore {
    static let messageColumns =
        "m.room_id, m.seq, m.client_id, m.sender_id, m.text, m.sent_at, m.deleted_at, m.reply_to, m.edited_at, m.call_meeting, m.call_outcome, m.call_duration"
    static let messageColumnCount = 12

    static func message(from row: SQLRow, at column: Int = 0) throws -> Message {
        let call = try row.optionalText(column + 9).map { meeting in
            CallEntry(
                meeting: meeting, outcome: CallEntry.Outcome(rawValue: try row.text(column + 10)) ?? .started,
                durationMs: try row.optionalInt(column + 11))
        }
        return Message(
            room: try row.text(column),
            seq: try row.int(column + 1),
            clientId: try row.text(column + 2),
            sender: try row.text(column + 3),
            text: try row.optionalText(column + 4),
            sentAt: Timestamp(milliseconds: try row.int(column + 5)),
            deletedAt: try row.optionalInt(column + 6).map(Timestamp.init(milliseconds:)),
            replyTo: try row.optionalInt(column + 7),
            editedAt: try row.optionalInt(column + 8).map(Timestamp.init(milliseconds:)),
            call: call)
    }

    public func messages(room: String, viewer: String, page: Page) async throws -> [Message] {
        // Checked through the batcher, before the read takes a connection: a reconnect storm replays thousands.
        guard try await role(of: viewer, in: room) != nil else { throw ParleyError.notFound("room") }
        return try await pageReads.submit(RoomPage(room: room, page: page)) { [self] pages in
            let read = try await read { sql in try await Self.messages(Set(pages), dialect: dialect, sql) }
            return pages.map { read[$0] ?? [] }
        }
    }

    /// Reads pages of messages, each oldest first. On Postgres all of them in one statement; on SQLite, which has no
    /// `LATERAL`, one statement each on the same connection.
    static func messages(_ pages: Set<RoomPage>, dialect: SQLDialect, _ sql: any SQLExecutor) async throws -> [RoomPage: [Message]] {
        var read: [RoomPage: [Message]] = [:]
        switch dialect {
        case .postgres:
            // Oldest first after a bound, else the newest: one statement per direction, so that each reads the
            // index (room_id, seq) in its own order.
            for newest in [false, true] {
                let batch = Array(pages.filter { $0.newest == newest })
                guard !batch.isEmpty else { continue }
                let rows = try await sql.query(
                    "SELECT v.column1, p.* FROM (VALUES \(values(batch.count, 5))) AS v CROSS JOIN LATERAL"
                        + " (SELECT \(messageColumns) FROM messages m WHERE m.room_id = v.column2 AND m.seq > v.column3"
                        + " AND m.seq < v.column4 ORDER BY m.seq \(newest ? "DESC" : "ASC") LIMIT v.column5) AS p",
                    batch.enumerated().flatMap { index, page in
                        [.int(Int64(index)), .text(page.room), .int(page.after), .int(page.before), .int(Int64(page.page.limit))]
                    })
                for row in rows {
                    read[batch[Int(try row.int(0))], default: []].append(try message(from: row, at: 1))
                }
            }
        case .sqlite:
            for page in pages {
                let rows = try await sql.query(
                    "SELECT \(messageColumns) FROM messages m WHERE m.room_id = ? AND m.seq > ? AND m.seq < ?"
                        + " ORDER BY m.seq \(page.newest ? "DESC" : "ASC") LIMIT ?",
                    [.text(page.room), .int(page.after), .int(page.before), .int(Int64(page.page.limit))])
                read[page] = try rows.map { try message(from: $0) }
            }
        }
        for (page, messages) in read {
            read[page] = try await withDetails(messages.sorted { $0.seq < $1.seq }, sql)
        }
        return read
    }

    public func deleteMessage(room: String, seq: Int64, actor: String) async throws -> Sent {
        try await transaction { sql in
            let role = try await sql.role(of: actor, in: room)
            guard
                let row = try await sql.first(
                    "SELECT \(Self.messageColumns) FROM messages m WHERE m.room_id = ? AND m.seq = ?" + dialect.forUpdate,
                    [.text(room), .int(seq)])
            else { throw ParleyError.notFound("message") }
            var message = try Self.message(from: row)
            guard !message.isDeleted else { return Sent(message: message, created: false, outbox: nil) }
            guard RoomPolicy.canDeleteMessage(role, isSender: message.sender == actor) else {
                throw ParleyError.forbidden("only the sender or an admin deletes a message")
            }
            let now = Timestamp.now
            // Nothing of it stays but its seq, its sender and when: not what it answered, nor which call it was.
            try await sql.execute(
                """
                UPDATE messages SET text = NULL, deleted_at = ?, reply_to = NULL, call_meeting = NULL, call_outcome = NULL, call_duration = NULL
                WHERE room_id = ? AND seq = ?
                """,
                [.int(now.milliseconds), .text(room), .int(seq)])
            message.text = nil
            message.deletedAt = now
            message.replyTo = nil
            message.call = nil
            let removed = try await Self.removeFiles(room: room, seq: seq, sql)
            try await sql.execute("DELETE FROM reactions WHERE room_id = ? AND seq = ?", [.text(room), .int(seq)])
            let outbox = try await sql.enqueue(.messageDeleted(message), on: Channel.room(room), now: now)
            return Sent(message: message, created: true, outbox: outbox, removedFiles: removed)
        }
    }

    @discardableResult
    public func markRead(room: String, user: String, seq: Int64) async throws -> Int64? {
        try await transaction { sql in
            _ = try await sql.role(of: user, in: room)
            let lastSeq = try await sql.first("SELECT last_seq FROM rooms WHERE id = ?", [.text(room)])!.int(0)
            guard seq <= lastSeq else { throw ParleyError.invalid("seq", "is beyond the room's last message (\(lastSeq))") }
            let mark = try await sql.first(
                "SELECT last_read_seq FROM room_members WHERE room_id = ? AND user_id = ?" + dialect.forUpdate, [.text(room), .text(user)])!.int(0)
            guard mark < seq else { return nil }
            try await sql.execute(
                "UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND user_id = ? AND last_read_seq < ?",
                [.int(seq), .text(room), .text(user), .int(seq)])
            return try await sql.first(
                "SELECT \(Self.unreadCount) FROM room_members rm WHERE rm.room_id = ? AND rm.user_id = ?", [.text(room), .text(user)]
            )!.int(0)
        }
    }

    /// How many messages of the room `rm` the member has not read: others' messages after their read mark, not
    /// deleted; of calls' entries, only the calls nobody answered (`missedCalls`).
    static let unreadCount = """
        (SELECT COUNT(*) FROM messages x WHERE x.room_id = rm.room_id AND x.seq > rm.last_read_seq AND x.sender_id <> rm.user_id
            AND x.deleted_at IS NULL AND (x.call_outcome IS NULL OR x.call_outcome IN \(missedOutcomes)))
        """

    /// The ends of calls that went unanswered: to whoever was called, a call the caller gave up on is missed too.
    static let missedOutcomes = "('missed', 'cancelled')"
}

/// One page of a room, as `messages` asks for it.
struct RoomPage: Hashable {
    let room: String
    let page: Page

    /// With only `before`, or no bound at all, the page is the room's newest messages.
    var newest: Bool { page.after == nil }
    /// The page's bounds, both exclusive; seqs start at 1.
    var after: Int64 { page.after ?? 0 }
    var before: Int64 { page.before ?? .max }
}

/// A user in a room.
struct Membership: Hashable {
    let room: String
    let user: String
}
