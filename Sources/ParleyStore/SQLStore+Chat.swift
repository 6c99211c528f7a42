import ParleyCore

/// What people do with messages besides sending and deleting them: replies' quotes, edits, reactions, mentions and
/// search.
extension SQLStore {
    /// The messages with their files, reactions and the quotes of what they answer.
    static func withDetails(_ messages: [Message], _ sql: any SQLExecutor) async throws -> [Message] {
        try await withQuotes(try await withReactions(try await withFiles(messages, sql), sql), sql)
    }

    /// Replies with what they answer as it reads now: one read per room.
    static func withQuotes(_ messages: [Message], _ sql: any SQLExecutor) async throws -> [Message] {
        var quotes: [String: [Int64: Quote]] = [:]
        for (room, replies) in Dictionary(grouping: messages.filter { $0.replyTo != nil }, by: \.room) {
            let seqs = Array(Set(replies.compactMap(\.replyTo)))
            for row in try await sql.query(
                "SELECT seq, sender_id, text, deleted_at FROM messages WHERE room_id = ? AND seq IN (\(placeholders(seqs.count)))",
                [.text(room)] + seqs.map { .int($0) })
            {
                quotes[room, default: [:]][try row.int(0)] = Quote(sender: try row.text(1), text: try row.optionalText(2), deleted: !row.isNull(3))
            }
        }
        return messages.map { message in
            var message = message
            message.quoted = message.replyTo.flatMap { quotes[message.room]?[$0] }
            return message
        }
    }

    /// The messages with their reactions, each emoji in the order it was first given: one read per room.
    static func withReactions(_ messages: [Message], _ sql: any SQLExecutor) async throws -> [Message] {
        var reactions: [String: [Int64: [Reaction]]] = [:]
        for (room, inRoom) in Dictionary(grouping: messages.filter { !$0.isDeleted }, by: \.room) {
            let seqs = inRoom.map(\.seq)
            for row in try await sql.query(
                "SELECT seq, emoji, user_id FROM reactions WHERE room_id = ? AND seq BETWEEN ? AND ? ORDER BY created_at, user_id, emoji",
                [.text(room), .int(seqs.min()!), .int(seqs.max()!)])
            {
                let (seq, emoji, user) = (try row.int(0), try row.text(1), try row.text(2))
                var list = reactions[room]?[seq] ?? []
                if let index = list.firstIndex(where: { $0.emoji == emoji }) {
                    list[index] = Reaction(emoji: emoji, users: list[index].users + [user])
                } else {
                    list.append(Reaction(emoji: emoji, users: [user]))
                }
                reactions[room, default: [:]][seq] = list
            }
        }
        return messages.map { message in
            var message = message
            message.reactions = reactions[message.room]?[message.seq]
            return message
        }
    }

    public func editMessage(room: String, seq: Int64, actor: String, text: String) async throws -> Sent {
        try await transaction { sql in
            _ = try await sql.role(of: actor, in: room)
            var message = try await lockedMessage(room: room, seq: seq, sql)
            guard message.sender == actor, message.call == nil else { throw ParleyError.forbidden("only its sender edits a message") }
            guard !message.isDeleted else { throw ParleyError.invalid("seq", "the message is deleted") }
            guard message.text != text else { return Sent(message: try await Self.withDetails([message], sql)[0], created: false) }
            let now = Timestamp.now
            try await sql.execute(
                "UPDATE messages SET text = ?, edited_at = ? WHERE room_id = ? AND seq = ?",
                [.text(text), .int(now.milliseconds), .text(room), .int(seq)])
            message.text = text
            message.editedAt = now
            message = try await Self.withDetails([message], sql)[0]
            let outbox = try await sql.enqueue(.messageEdited(message), on: Channel.room(room), now: now)
            return Sent(message: message, created: true, outbox: outbox)
        }
    }

    public func react(room: String, seq: Int64, user: String, emoji: String, on: Bool) async throws -> OutboxEntry? {
        try await transaction { sql in
            _ = try await sql.role(of: user, in: room)
            let message = try await lockedMessage(room: room, seq: seq, sql)
            // A deleted message took its reactions with it: none is added, and taking one back changes nothing.
            guard !(on && message.isDeleted) else { throw ParleyError.invalid("seq", "the message is deleted") }
            let key: [SQLValue] = [.text(room), .int(seq), .text(user), .text(emoji)]
            let given = try await sql.first("SELECT 1 FROM reactions WHERE room_id = ? AND seq = ? AND user_id = ? AND emoji = ?", key) != nil
            guard given != on else { return nil }
            let now = Timestamp.now
            if on {
                // A new emoji only while the message holds fewer than the most; one already there takes anyone's.
                let emojis = try await sql.query("SELECT DISTINCT emoji FROM reactions WHERE room_id = ? AND seq = ?", [.text(room), .int(seq)])
                    .map { try $0.text(0) }
                guard emojis.count < Limits.emojisPerMessage || emojis.contains(emoji) else {
                    throw ParleyError.invalid("emoji", "a message holds at most \(Limits.emojisPerMessage) different emoji")
                }
                try await sql.execute(
                    "INSERT INTO reactions (room_id, seq, user_id, emoji, created_at) VALUES (?, ?, ?, ?, ?)", key + [.int(now.milliseconds)])
            } else {
                try await sql.execute("DELETE FROM reactions WHERE room_id = ? AND seq = ? AND user_id = ? AND emoji = ?", key)
            }
            let change = ReactionChange(room: room, seq: seq, user: user, emoji: emoji)
            return try await sql.enqueue(on ? .reactionAdded(change) : .reactionRemoved(change), on: Channel.room(room), now: now)
        }
    }

    public func mentioned(_ usernames: Set<String>, in room: String, by sender: String) async throws -> [String] {
        guard !usernames.isEmpty else { return [] }
        return try await read { sql in
            try await sql.query(
                "SELECT u.id FROM users u JOIN room_members rm ON rm.user_id = u.id AND rm.room_id = ?"
                    + " WHERE u.username IN (\(Self.placeholders(usernames.count))) AND u.id <> ? ORDER BY u.id",
                [.text(room)] + usernames.sorted().map { .text($0) } + [.text(sender)]
            ).map { try $0.text(0) }
        }
    }

    public func search(_ query: SearchQuery, viewer: String) async throws -> [Message] {
        try await read { sql in
            if let room = query.room { _ = try await sql.role(of: viewer, in: room) }
            let inRoom = query.room == nil ? "" : " AND m.room_id = ?"
            let room: [SQLValue] = query.room.map { [.text($0)] } ?? []
            let page: [SQLValue] = [.int(Int64(query.limit)), .int(Int64(query.offset))]
            let rows: [SQLRow]
            switch dialect {
            case .postgres:
                // Each word as a prefix (`word:*`), all of them (`&`); the words are letters and digits only.
                let words = SQLValue.text(query.terms.map { "\($0):*" }.joined(separator: " & "))
                rows = try await sql.query(
                    """
                    SELECT \(Self.messageColumns) FROM messages m JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = ?
                    WHERE to_tsvector('simple', m.text) @@ to_tsquery('simple', ?)\(inRoom)
                    ORDER BY ts_rank(to_tsvector('simple', m.text), to_tsquery('simple', ?)) DESC, m.sent_at DESC, m.room_id, m.seq DESC
                    LIMIT ? OFFSET ?
                    """, [.text(viewer), words] + room + [words] + page)
            case .sqlite:
                // Each word quoted, as a prefix (`"word"*`); FTS5 wants all of them when they stand side by side.
                let words = SQLValue.text(query.terms.map { "\"\($0)\"*" }.joined(separator: " "))
                rows = try await sql.query(
                    """
                    SELECT \(Self.messageColumns) FROM messages_search JOIN messages m ON m.rowid = messages_search.rowid
                    JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = ?
                    WHERE messages_search MATCH ?\(inRoom)
                    ORDER BY messages_search.rank, m.sent_at DESC, m.room_id, m.seq DESC LIMIT ? OFFSET ?
                    """, [.text(viewer), words] + room + page)
            }
            return try await Self.withDetails(try rows.map { try Self.message(from: $0) }, sql)
        }
    }

    /// A message of the room, locked for the change that follows.
    func lockedMessage(room: String, seq: Int64, _ sql: any SQLExecutor) async throws -> Message {
        guard
            let row = try await sql.first(
                "SELECT \(Self.messageColumns) FROM messages m WHERE m.room_id = ? AND m.seq = ?" + dialect.forUpdate, [.text(room), .int(seq)])
        else { throw ParleyError.notFound("message") }
        return try Self.message(from: row)
    }
}
