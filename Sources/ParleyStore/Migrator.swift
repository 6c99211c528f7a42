import Foundation

/// Applies the SQL files of the top-level `migrations/` folder in name order, each in its own transaction, and records each in
/// `schema_migrations` so that it runs once. A file that is the same in both dialects sits in `migrations/`
/// itself; one that differs has a version per dialect in `migrations/<dialect>/`.
struct Migrator {
    let database: any SQLDatabase

    /// The migrations built into this binary (the top-level `migrations/` folder, embedded by the EmbedMigrations
    /// plugin), in the order they apply.
    static func files(for dialect: SQLDialect) throws -> [(version: String, sql: String)] {
        var files: [String: String] = [:]
        for (path, sql) in EmbeddedMigrations.files {
            let parts = path.split(separator: "/")
            guard parts.count == 1 || (parts.count == 2 && parts[0] == dialect.rawValue) else { continue }
            let version = String(parts.last!.dropLast(4))
            guard files.updateValue(sql, forKey: version) == nil else {
                throw StoreError(description: "migration \(version) is both shared and \(dialect.rawValue)-only")
            }
        }
        guard !files.isEmpty else { throw StoreError.migrationsMissing }
        return files.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Splits a file into statements at semicolons that end a line. Migrations keep to that shape. A dollar-quoted
    /// body (`$$ … $$`, a function's) is one statement, whatever semicolons it holds.
    static func statements(in sql: String) -> [String] {
        let lines = sql.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
        var statements: [String] = []
        var current: String?
        for part in lines.joined(separator: "\n").components(separatedBy: ";\n") {
            let statement = current.map { $0 + ";\n" + part } ?? part
            let insideBody = statement.components(separatedBy: "$$").count.isMultiple(of: 2)
            current = insideBody ? statement : nil
            if !insideBody { statements.append(statement) }
        }
        if let current { statements.append(current) }
        return
            statements
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ";"))) }
            .filter { !$0.isEmpty }
    }

    /// Applies what is missing and returns the versions it applied.
    func migrate() async throws -> [String] {
        try await database.withExecutor { sql in
            try await sql.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        }
        var applied: [String] = []
        for file in try Self.files(for: database.dialect) {
            let didApply = try await database.withTransaction { sql in
                if database.dialect == .postgres {
                    // Nodes that start together migrate one at a time; the others then find the work done.
                    try await sql.execute("SELECT pg_advisory_xact_lock(72616)")
                }
                guard try await sql.first("SELECT 1 FROM schema_migrations WHERE version = ?", [.text(file.version)]) == nil
                else { return false }
                for statement in Self.statements(in: file.sql) {
                    try await sql.execute(statement)
                }
                try await sql.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.text(file.version), .int(Int64(Date().timeIntervalSince1970 * 1000))])
                return true
            }
            if didApply { applied.append(file.version) }
        }
        return applied
    }
}
