import Crypto
import Foundation
import JWTKit
import ParleyCore

/// Access tokens (short-lived JWTs) and refresh tokens (random secrets, stored only as hashes).
public final class Tokens: Sendable {
    static let issuer = "parley"
    static let audience = "parley"
    /// The one algorithm accepted. A token whose header names another is refused before any key is used.
    static let algorithm = "HS256"

    private let keys: JWTKeyCollection
    /// Signs the links to files kept in a folder, under a key derived from the same secret.
    let fileLinks: FileURLSigner
    let accessLifetime: Int64
    let refreshLifetime: Int64

    init(secret: String, accessLifetime: Int64 = 15 * 60, refreshLifetime: Int64 = 30 * 24 * 3600) async {
        self.fileLinks = FileURLSigner(secret: secret)
        self.keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
    }

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        /// The session: the refresh-token family the token was issued for, so that revoking it ends the token.
        var sid: String
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var iss: IssuerClaim
        var aud: AudienceClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            guard iss.value == Tokens.issuer else { throw ParleyError(.unauthorized, "token from another issuer") }
            try aud.verifyIntendedAudience(includes: Tokens.audience)
        }
    }

    /// A signed access token for `userId` in `session`, valid for `accessLifetime` seconds from `now`.
    func accessToken(for userId: String, session: String, now: Date = Date()) async throws -> String {
        let claims = Claims(
            sub: .init(value: userId),
            sid: session,
            exp: .init(value: now.addingTimeInterval(TimeInterval(accessLifetime))),
            iat: .init(value: now),
            iss: .init(value: Self.issuer),
            aud: .init(value: [Self.audience]))
        return try await keys.sign(claims)
    }

    /// What a valid access token says; `unauthorized` for anything else. Whether its session still lives is
    /// `Sessions`' to say.
    func verify(_ token: String) async throws -> Access {
        guard Self.headerAlgorithm(of: token) == Self.algorithm else {
            throw ParleyError(.unauthorized, "invalid token")
        }
        do {
            let claims = try await keys.verify(token, as: Claims.self)
            return Access(userId: claims.sub.value, session: claims.sid, expiresAt: claims.exp.value)
        } catch {
            throw ParleyError(.unauthorized, "invalid or expired token")
        }
    }

    /// Whom a token is for, in which session, until when.
    struct Access: Sendable, Hashable {
        let userId: String
        let session: String
        let expiresAt: Date
    }

    private static func headerAlgorithm(of token: String) -> String? {
        guard let header = token.split(separator: ".", omittingEmptySubsequences: false).first else { return nil }
        var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let fields = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return fields["alg"] as? String
    }

    /// A new refresh secret for the client: 32 random bytes, base64url.
    static func newRefreshSecret() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// What the store keeps of a refresh secret. A fast hash is right here: the secret has 256 random bits.
    static func hash(refreshSecret: String) -> String {
        SHA256.hash(data: Data(refreshSecret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
