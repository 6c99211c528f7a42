import ParleyCore

/// Files shared in rooms: announced, stored, and swept when never sent.
extension SQLStore {
    static let fileColumns = "f.id, f.name, f.size, f.content_type, f.room_id, f.uploader_id, f.created_at, f.stored_at, f.message_seq"

    static func file(from row: SQLRow) throws -> StoredFile {
        StoredFile(
            ref: FileRef(id: try row.text(0), name: try row.text(1), size: try row.int(2), contentType: try row.text(3)),
            room: try row.text(4), uploader: try row.text(5), createdAt: Timestamp(milliseconds: try row.int(6)),
            storedAt: try row.optionalInt(7).map(Timestamp.init(milliseconds:)), messageSeq: try row.optionalInt(8))
    }

    /// Records a file announced for upload by a member of its room, or by the recorder; `not_found` for anyone
    /// else.
    public func createFile(_ file: StoredFile) async throws {
        try await transaction { sql in
            guard try await Self.mayPost(file.uploader, in: file.room, sql) else { throw ParleyError.notFound("room") }
            try await sql.execute(
                "INSERT INTO files (id, room_id, uploader_id, name, size, content_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(file.ref.id), .text(file.room), .text(file.uploader), .text(file.ref.name), .int(file.ref.size),
                    .text(file.ref.contentType), .int(file.createdAt.milliseconds),
                ])
        }
    }

    /// The file, if `viewer` is a member of its room (or no viewer is named).
    public func file(_ id: String, viewer: String?) async throws -> StoredFile? {
        try await read { sql in
            let membership = viewer == nil ? "" : " AND EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = f.room_id AND rm.user_id = ?)"
            return try await sql.first(
                "SELECT \(Self.fileColumns) FROM files f WHERE f.id = ?" + membership, [.text(id)] + (viewer.map { [.text($0)] } ?? [])
            )
            .map { try Self.file(from: $0) }
        }
    }

    /// Marks the file's bytes as in, once; false when they were already.
    public func markFileStored(_ id: String, at time: Timestamp) async throws -> Bool {
        try await transaction { sql in
            let pending = try await sql.first("SELECT 1 FROM files WHERE id = ? AND stored_at IS NULL", [.text(id)]) != nil
            if pending { try await sql.execute("UPDATE files SET stored_at = ? WHERE id = ?", [.int(time.milliseconds), .text(id)]) }
            return pending
        }
    }

    /// Removes the records of files no message carries that were announced before `cutoff`, and returns them, so
    /// that their bytes go too.
    public func sweepUnsentFiles(before cutoff: Timestamp, limit: Int) async throws -> [StoredFile] {
        try await transaction { sql in
            let files = try await sql.query(
                "SELECT \(Self.fileColumns) FROM files f WHERE f.message_seq IS NULL AND f.created_at < ? ORDER BY f.created_at LIMIT ?",
                [.int(cutoff.milliseconds), .int(Int64(limit))]
            ).map { try Self.file(from: $0) }
            guard !files.isEmpty else { return [] }
            try await sql.execute("DELETE FROM files WHERE id IN (\(Self.placeholders(files.count)))", files.map { .text($0.ref.id) })
            return files
        }
    }
}

/// Messages with files or in reply to another: one transaction each, beside the batched sends of plain messages.
extension SQLStore {
    public func send(room: String, sender: String, clientId: String, text: String, files ids: [String], replyTo: Int64?) async throws -> Sent {
        guard !ids.isEmpty || replyTo != nil else { return try await send(room: room, sender: sender, clientId: clientId, text: text) }
        return try await transaction { sql in
            // The room's lock first, as every send takes it: its seqs go out in order and none is skipped.
            guard let last = try await sql.first("SELECT last_seq FROM rooms WHERE id = ?" + dialect.forUpdate, [.text(room)])?.int(0) else {
                throw ParleyError.notFound("room")
            }
            guard try await Self.mayPost(sender, in: room, sql) else { throw ParleyError.notFound("room") }
            if let row = try await sql.first(
                "SELECT \(Self.messageColumns) FROM messages m WHERE m.room_id = ? AND m.sender_id = ? AND m.client_id = ?",
                [.text(room), .text(sender), .text(clientId)])
            {
                let original = try await Self.withDetails([try Self.message(from: row)], sql)[0]
                return Sent(message: original, created: false, outbox: nil)
            }
            if let replyTo {
                guard
                    try await sql.first(
                        "SELECT 1 FROM messages WHERE room_id = ? AND seq = ? AND deleted_at IS NULL", [.text(room), .int(replyTo)]) != nil
                else { throw ParleyError.invalid("replyTo", "must be the seq of a message of this room that is not deleted") }
            }
            let refs = try await Self.takeUp(ids, room: room, sender: sender, sql)
            let now = Timestamp.now
            var message = Message(
                room: room, seq: last + 1, clientId: clientId, sender: sender, text: text, sentAt: now, files: refs.isEmpty ? nil : refs,
                replyTo: replyTo)
            try await sql.execute(
                "INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at, reply_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [.text(room), .int(message.seq), .text(clientId), .text(sender), .text(text), .int(now.milliseconds), SQLValue(replyTo)])
            if !ids.isEmpty {
                try await sql.execute(
                    "UPDATE files SET message_seq = ? WHERE id IN (\(Self.placeholders(ids.count)))", [.int(message.seq)] + ids.map { .text($0) })
            }
            try await sql.execute("UPDATE rooms SET last_seq = ? WHERE id = ?", [.int(message.seq), .text(room)])
            try await sql.execute(
                "UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND user_id = ?", [.int(message.seq), .text(room), .text(sender)])
            message = try await Self.withQuotes([message], sql)[0]
            let outbox = try await sql.enqueue(.messageCreated(message), on: Channel.room(room), now: now)
            return Sent(message: message, created: true, outbox: outbox)
        }
    }

    /// The files a message takes up, in the order named: each must be the sender's, announced for this room, whole,
    /// and not sent before.
    private static func takeUp(_ ids: [String], room: String, sender: String, _ sql: any SQLExecutor) async throws -> [FileRef] {
        guard !ids.isEmpty else { return [] }
        let found = try await sql.query(
            "SELECT \(fileColumns) FROM files f WHERE f.id IN (\(placeholders(ids.count)))", ids.map { .text($0) }
        ).map { try file(from: $0) }
        let byId = Dictionary(found.map { ($0.ref.id, $0) }) { first, _ in first }
        return try ids.map { id in
            guard let file = byId[id], file.room == room, file.uploader == sender, file.storedAt != nil, file.messageSeq == nil else {
                throw ParleyError.invalid("files", "must be files you uploaded to this room, whole, and not sent before")
            }
            return file.ref
        }
    }

    /// Whether `user` posts in the room: a member does, and so does the recorder, which posts the recordings of
    /// the room's meetings without being a member.
    static func mayPost(_ user: String, in room: String, _ sql: any SQLExecutor) async throws -> Bool {
        if user == User.recorderId { return true }
        return try await sql.first("SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?", [.text(room), .text(user)]) != nil
    }

    /// The messages with the files each was sent with, in the order they were named: one read per room.
    static func withFiles(_ messages: [Message], _ sql: any SQLExecutor) async throws -> [Message] {
        var files: [String: [Int64: [FileRef]]] = [:]
        for (room, inRoom) in Dictionary(grouping: messages.filter { !$0.isDeleted }, by: \.room) {
            let seqs = inRoom.map(\.seq)
            for row in try await sql.query(
                "SELECT \(fileColumns) FROM files f WHERE f.room_id = ? AND f.message_seq BETWEEN ? AND ? ORDER BY f.created_at, f.id",
                [.text(room), .int(seqs.min()!), .int(seqs.max()!)])
            {
                let file = try file(from: row)
                files[room, default: [:]][file.messageSeq!, default: []].append(file.ref)
            }
        }
        return messages.map { message in
            var message = message
            message.files = files[message.room]?[message.seq]
            return message
        }
    }

    /// Takes the files of a message out of the store, returning them so that their bytes go too.
    static func removeFiles(room: String, seq: Int64, _ sql: any SQLExecutor) async throws -> [StoredFile] {
        let files = try await sql.query(
            "SELECT \(fileColumns) FROM files f WHERE f.room_id = ? AND f.message_seq = ?", [.text(room), .int(seq)]
        ).map { try file(from: $0) }
        if !files.isEmpty { try await sql.execute("DELETE FROM files WHERE room_id = ? AND message_seq = ?", [.text(room), .int(seq)]) }
        return files
    }

    /// Puts the keys of a room's files in the trash, in the transaction that deletes the room (and with it the
    /// files' rows): both places their bytes may be.
    static func trashFiles(ofRoom room: String, _ sql: any SQLExecutor) async throws {
        for prefix in ["files/", "uploads/"] {
            try await sql.execute(
                "INSERT INTO blob_trash (key, created_at) SELECT ? || room_id || '/' || id, ? FROM files WHERE room_id = ?",
                [.text(prefix), .int(Timestamp.now.milliseconds), .text(room)])
        }
    }

    /// Takes up to `limit` keys out of the trash, for their bytes to be removed.
    public func takeTrash(limit: Int) async throws -> [String] {
        try await transaction { sql in
            let keys = try await sql.query("SELECT key FROM blob_trash ORDER BY created_at, key LIMIT ?", [.int(Int64(limit))]).map { try $0.text(0) }
            if !keys.isEmpty {
                try await sql.execute("DELETE FROM blob_trash WHERE key IN (\(Self.placeholders(keys.count)))", keys.map { .text($0) })
            }
            return keys
        }
    }
}
