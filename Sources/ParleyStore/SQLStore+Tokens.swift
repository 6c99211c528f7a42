import ParleyCore

extension SQLStore {
    public func insertRefreshToken(_ token: RefreshToken) async throws {
        try await transaction { sql in
            try await sql.execute(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (?, ?, ?, ?)",
                [.text(token.hash), .text(token.userId), .text(token.familyId), .int(token.expiresAt.milliseconds)])
        }
    }

    public func rotateRefreshToken(presentedHash: String, next: RefreshToken, now: Timestamp) async throws -> (userId: String, session: String) {
        let outcome: Result<(userId: String, session: String), any Error> = try await transaction { sql in
            guard
                let row = try await sql.first(
                    "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?"
                        + dialect.forUpdate,
                    [.text(presentedHash)])
            else { return .failure(ParleyError(.unauthorized, "unknown refresh token")) }
            let (userId, familyId) = (try row.text(0), try row.text(1))
            if !row.isNull(4) { return .failure(ParleyError(.unauthorized, "refresh token revoked")) }
            if !row.isNull(3) {
                // A used token came back: someone holds a copy. Revoke the family so that neither copy works.
                try await Self.revokeFamily(familyId, now: now, sql)
                return .failure(RefreshTokenReused(userId: userId, session: familyId))
            }
            if try row.int(2) <= now.milliseconds { return .failure(ParleyError(.unauthorized, "refresh token expired")) }
            try await sql.execute("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?", [.int(now.milliseconds), .text(presentedHash)])
            try await sql.execute(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (?, ?, ?, ?)",
                [.text(next.hash), .text(userId), .text(familyId), .int(next.expiresAt.milliseconds)])
            return .success((userId, familyId))
        }
        // The revocation above must commit, so the error is thrown only after the transaction.
        return try outcome.get()
    }

    public func revokeRefreshToken(hash: String, now: Timestamp) async throws -> (userId: String, session: String)? {
        try await transaction { sql in
            guard let row = try await sql.first("SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = ?", [.text(hash)])
            else { return nil }
            try await Self.revokeFamily(try row.text(1), now: now, sql)
            return (try row.text(0), try row.text(1))
        }
    }

    public func revokeSessions(of user: String, now: Timestamp) async throws -> [String] {
        try await transaction { sql in
            let families = try await sql.query(
                "SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL", [.text(user)]
            ).map { try $0.text(0) }
            try await sql.execute(
                "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", [.int(now.milliseconds), .text(user)])
            return families
        }
    }

    public func isLiveSession(_ session: String, user: String) async throws -> Bool {
        try await sessionReads.submit(SessionOf(session: session, user: user)) { [self] batch in
            let rows = try await read { sql in
                try await sql.query(
                    // The recorder's session is the recording it attends, while a worker records it.
                    "SELECT DISTINCT t.family_id, t.user_id FROM refresh_tokens t JOIN (VALUES \(Self.values(batch.count, 2))) AS v"
                        + " ON t.family_id = v.column1 AND t.user_id = v.column2 WHERE t.revoked_at IS NULL"
                        + " UNION SELECT r.id, '\(User.recorderId)' FROM recordings r JOIN (VALUES \(Self.values(batch.count, 2))) AS v"
                        + " ON r.id = v.column1 AND v.column2 = '\(User.recorderId)' WHERE r.state IN ('recording', 'stopping')",
                    batch.flatMap { [.text($0.session), .text($0.user)] } + batch.flatMap { [.text($0.session), .text($0.user)] })
            }
            let live = Set(try rows.map { SessionOf(session: try $0.text(0), user: try $0.text(1)) })
            return batch.map { live.contains($0) }
        }
    }

    private static func revokeFamily(_ familyId: String, now: Timestamp, _ sql: any SQLExecutor) async throws {
        try await sql.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
            [.int(now.milliseconds), .text(familyId)])
    }
}

/// A session of a user's, as a check asks for it.
struct SessionOf: Hashable, Sendable {
    let session: String
    let user: String
}

/// A refresh token presented a second time: someone holds a copy, and the store has revoked its whole session.
/// The caller ends the session everywhere else too (its access tokens and sockets).
public struct RefreshTokenReused: Error, Sendable {
    public let userId: String
    public let session: String
    public var error: ParleyError { ParleyError(.unauthorized, "refresh token reused; its session is revoked") }
}
