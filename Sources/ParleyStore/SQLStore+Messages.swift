import ParleyCore

extension SQLStore {
    static let messageColumns = "m.room_id, m.seq, m.client_id, m.sender_id, m.text, m.sent_at, m.deleted_at"

    static func message(from row: SQLRow, at column: Int = 0) throws -> Message {
        Message(
            room: try row.text(column),
            seq: try row.int(column + 1),
            clientId: try row.text(column + 2),
            sender: try row.text(column + 3),
            text: try row.optionalText(column + 4),
            sentAt: Timestamp(milliseconds: try row.int(column + 5)),
            deletedAt: try row.optionalInt(column + 6).map(Timestamp.init(milliseconds:)))
    }

    public func send(room: String, sender: String, clientId: String, text: String) async throws -> Sent {
        try await transaction { sql in
            _ = try await sql.role(of: sender, in: room)
            // Locking the room row serialises the room's senders, so the next seq is free and no seq is skipped.
            let lastSeq = try await sql.first("SELECT last_seq FROM rooms WHERE id = ?" + dialect.forUpdate, [.text(room)])!.int(0)
            // Checked under the lock, so that a retry racing its original sees the original once it commits.
            if let row = try await sql.first(
                "SELECT \(Self.messageColumns) FROM messages m WHERE m.room_id = ? AND m.sender_id = ? AND m.client_id = ?",
                [.text(room), .text(sender), .text(clientId)])
            {
                return Sent(message: try Self.message(from: row), created: false, outbox: nil)
            }
            let now = Timestamp.now
            let message = Message(room: room, seq: lastSeq + 1, clientId: clientId, sender: sender, text: text, sentAt: now)
            try await sql.execute(
                "INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(room), .int(message.seq), .text(clientId), .text(sender), .text(text), .int(now.milliseconds)])
            try await sql.execute("UPDATE rooms SET last_seq = ? WHERE id = ?", [.int(message.seq), .text(room)])
            // What you sent yourself is read.
            try await sql.execute(
                "UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND user_id = ?",
                [.int(message.seq), .text(room), .text(sender)])
            let outbox = try await sql.enqueue(.messageCreated(message), on: Channel.room(room), now: now)
            return Sent(message: message, created: true, outbox: outbox)
        }
    }

    public func messages(room: String, viewer: String, page: Page) async throws -> [Message] {
        try await read { sql in
            _ = try await sql.role(of: viewer, in: room)
            var conditions = ["m.room_id = ?"]
            var binds: [SQLValue] = [.text(room)]
            if let after = page.after {
                conditions.append("m.seq > ?")
                binds.append(.int(after))
            }
            if let before = page.before {
                conditions.append("m.seq < ?")
                binds.append(.int(before))
            }
            // With only `before`, or no bound at all, the page is the newest messages: read backwards, then flip.
            let newest = page.after == nil
            let rows = try await sql.query(
                "SELECT \(Self.messageColumns) FROM messages m WHERE \(conditions.joined(separator: " AND "))"
                    + " ORDER BY m.seq \(newest ? "DESC" : "ASC") LIMIT ?",
                binds + [.int(Int64(page.limit))])
            let messages = try rows.map { try Self.message(from: $0) }
            return newest ? messages.reversed() : messages
        }
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
            try await sql.execute(
                "UPDATE messages SET text = NULL, deleted_at = ? WHERE room_id = ? AND seq = ?",
                [.int(now.milliseconds), .text(room), .int(seq)])
            message.text = nil
            message.deletedAt = now
            let outbox = try await sql.enqueue(.messageDeleted(message), on: Channel.room(room), now: now)
            return Sent(message: message, created: true, outbox: outbox)
        }
    }

    public func markRead(room: String, user: String, seq: Int64) async throws {
        try await transaction { sql in
            _ = try await sql.role(of: user, in: room)
            let lastSeq = try await sql.first("SELECT last_seq FROM rooms WHERE id = ?", [.text(room)])!.int(0)
            guard seq <= lastSeq else { throw ParleyError.invalid("seq", "is beyond the room's last message (\(lastSeq))") }
            try await sql.execute(
                "UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND user_id = ? AND last_read_seq < ?",
                [.int(seq), .text(room), .text(user), .int(seq)])
        }
    }

    public func markPublished(outbox id: Int64) async throws {
        try await read { sql in try await sql.execute("DELETE FROM outbox WHERE id = ?", [.int(id)]) }
    }

    public func relayOutbox(olderThan: Timestamp, limit: Int, publish: (OutboxEntry) async throws -> Void) async throws -> Int {
        try await transaction { sql in
            let entries = try await sql.query(
                "SELECT id, channel, payload FROM outbox WHERE created_at < ? ORDER BY id LIMIT ?" + dialect.forUpdateSkipLocked,
                [.int(olderThan.milliseconds), .int(Int64(limit))]
            ).map { OutboxEntry(id: try $0.int(0), channel: try $0.text(1), payload: try $0.text(2)) }
            var published = 0
            for entry in entries {
                // A failed publish stops the round; what was published is deleted, the rest waits for the next one.
                do { try await publish(entry) } catch { break }
                try await sql.execute("DELETE FROM outbox WHERE id = ?", [.int(entry.id)])
                published += 1
            }
            return published
        }
    }
}
