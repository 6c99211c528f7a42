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

    /// Records a file announced for upload by a member of its room; `not_found` for anyone else.
    public func createFile(_ file: StoredFile) async throws {
        try await transaction { sql in
            guard try await sql.first("SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?", [.text(file.room), .text(file.uploader)]) != nil
            else { throw ParleyError.notFound("room") }
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
            return try await sql.first("SELECT \(Self.fileColumns) FROM files f WHERE f.id = ?" + membership, [.text(id)] + (viewer.map { [.text($0)] } ?? []))
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
