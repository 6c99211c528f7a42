import Foundation
import ParleyCore

extension SQLStore {
    static let userColumns = "u.id, u.username, u.name, u.avatar"

    static func user(from row: SQLRow, at column: Int = 0) throws -> User {
        User(
            id: try row.text(column), username: try row.text(column + 1), name: try row.text(column + 2),
            avatar: try row.optionalText(column + 3).map(User.avatarPath))
    }

    public func createUser(username: String, name: String, passwordHash: String) async throws -> User {
        let user = User(id: Identifier.make("u"), username: username, name: name)
        try await transaction(conflict: "username is taken") { sql in
            try await sql.execute(
                "INSERT INTO users (id, username, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                [.text(user.id), .text(username), .text(name), .text(passwordHash), .int(Timestamp.now.milliseconds)])
        }
        return user
    }

    public func credentials(username: String) async throws -> (user: User, passwordHash: String)? {
        try await read { sql in
            try await sql.first(
                "SELECT \(Self.userColumns), u.password_hash FROM users u WHERE u.username = ?", [.text(username)]
            ).map { (try Self.user(from: $0), try $0.text(4)) }
        }
    }

    public func user(id: String) async throws -> User? {
        try await read { sql in
            try await sql.first("SELECT \(Self.userColumns) FROM users u WHERE u.id = ?", [.text(id)]).map { try Self.user(from: $0) }
        }
    }

    /// Usernames and names that contain the query, best matches first: an exact username, then prefixes, then
    /// the rest (ranked by trigram similarity on Postgres, alphabetically on SQLite).
    public func searchUsers(_ query: String, limit: Int) async throws -> [User] {
        let pattern = "%" + Self.escapeLike(query.lowercased()) + "%"
        let prefix = Self.escapeLike(query.lowercased()) + "%"
        let similarity =
            dialect == .postgres ? "greatest(similarity(u.username, ?), similarity(lower(u.name), ?)) DESC," : ""
        let similarityBinds: [SQLValue] = dialect == .postgres ? [.text(query.lowercased()), .text(query.lowercased())] : []
        return try await read { sql in
            try await sql.query(
                """
                SELECT \(Self.userColumns) FROM users u
                WHERE (u.username LIKE ? ESCAPE '\\' OR lower(u.name) LIKE ? ESCAPE '\\') AND u.id <> '\(User.recorderId)'
                ORDER BY (u.username = ?) DESC, (u.username LIKE ? ESCAPE '\\' OR lower(u.name) LIKE ? ESCAPE '\\') DESC,
                \(similarity) u.username
                LIMIT ?
                """,
                [.text(pattern), .text(pattern), .text(query.lowercased()), .text(prefix), .text(prefix)]
                    + similarityBinds + [.int(Int64(limit))]
            ).map { try Self.user(from: $0) }
        }
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    /// Sets or clears the user's avatar (the name of its image in the blob store) and returns the user and the name
    /// of the image it replaced, whose bytes are to go.
    public func setAvatar(of id: String, to avatar: String?) async throws -> (user: User, replaced: String?) {
        try await transaction { sql in
            guard let row = try await sql.first("SELECT u.avatar FROM users u WHERE u.id = ?" + dialect.forUpdate, [.text(id)]) else {
                throw ParleyError.notFound("user")
            }
            let replaced = try row.optionalText(0)
            try await sql.execute("UPDATE users SET avatar = ? WHERE id = ?", [avatar.map { .text($0) } ?? .null, .text(id)])
            let user = try await sql.first("SELECT \(Self.userColumns) FROM users u WHERE u.id = ?", [.text(id)]).map { try Self.user(from: $0) }
            return (user!, replaced)
        }
    }
}
