import Foundation
import ParleyCore

extension SQLStore {
    static let userColumns = "u.id, u.username, u.name"

    static func user(from row: SQLRow, at column: Int = 0) throws -> User {
        User(id: try row.text(column), username: try row.text(column + 1), name: try row.text(column + 2))
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
            ).map { (try Self.user(from: $0), try $0.text(3)) }
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
                WHERE u.username LIKE ? ESCAPE '\\' OR lower(u.name) LIKE ? ESCAPE '\\'
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
}
