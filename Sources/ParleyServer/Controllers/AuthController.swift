import Hummingbird
import ParleyBus
import ParleyCore
import ParleyStore

/// Sign-up, sign-in, token refresh and sign-out.
struct AuthController {
    let store: any Store
    let bus: any Bus
    let tokens: Tokens
    let passwords: PasswordHasher
    /// A hash of a random password, checked against when the username is unknown.
    let decoyHash: String

    struct Register: Decodable {
        let username: String
        let password: String
        let name: String
    }

    struct Login: Decodable {
        let username: String
        let password: String
    }

    struct Refresh: Decodable {
        let refreshToken: String
    }

    /// What every successful sign-in answers.
    struct Session: Codable, Sendable {
        let user: User
        let accessToken: String
        let refreshToken: String
        /// Seconds until `accessToken` expires.
        let expiresIn: Int64
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("register", use: register)
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        group.post("logout", use: logout)
    }

    @Sendable func register(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Session> {
        let body = try await request.json(Register.self, context: context)
        let username = try Validate.username(body.username)
        let password = try Validate.password(body.password)
        let name = try Validate.name(body.name)
        let user = try await store.createUser(username: username, name: name, passwordHash: try await passwords.hash(password))
        return JSONBody(try await session(for: user, family: Identifier.make("f")), status: .created)
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Session> {
        let body = try await request.json(Login.self, context: context)
        let credentials = try await store.credentials(username: body.username.lowercased())
        // An unknown user costs as much as a wrong password, so that timing does not tell which usernames exist.
        let matches = try await passwords.verify(body.password, hash: credentials?.passwordHash ?? decoyHash)
        guard let user = credentials?.user, matches else { throw ParleyError(.unauthorized, "wrong username or password") }
        return JSONBody(try await session(for: user, family: Identifier.make("f")))
    }

    @Sendable func refresh(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Session> {
        let body = try await request.json(Refresh.self, context: context)
        let secret = Tokens.newRefreshSecret()
        let userId = try await store.rotateRefreshToken(
            presentedHash: Tokens.hash(refreshSecret: body.refreshToken),
            next: RefreshToken(hash: Tokens.hash(refreshSecret: secret), userId: "", familyId: "", expiresAt: refreshExpiry()),
            now: .now)
        guard let user = try await store.user(id: userId) else { throw ParleyError(.unauthorized, "unknown user") }
        return JSONBody(
            Session(user: user, accessToken: try await tokens.accessToken(for: userId), refreshToken: secret, expiresIn: tokens.accessLifetime))
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Refresh.self, context: context)
        // Signing out twice, or with a token already gone, is not an error: the session is over either way.
        if let userId = try await store.revokeRefreshToken(hash: Tokens.hash(refreshSecret: body.refreshToken), now: .now) {
            // Every node closes the user's sockets; a socket cannot outlive the sign-out by a token's lifetime.
            _ = try? await bus.publish(try Frames.encode(Frames.SessionClosed()), to: Channel.user(userId))
        }
        return Response(status: .noContent)
    }

    private func session(for user: User, family: String) async throws -> Session {
        let secret = Tokens.newRefreshSecret()
        try await store.insertRefreshToken(
            RefreshToken(hash: Tokens.hash(refreshSecret: secret), userId: user.id, familyId: family, expiresAt: refreshExpiry()))
        return Session(user: user, accessToken: try await tokens.accessToken(for: user.id), refreshToken: secret, expiresIn: tokens.accessLifetime)
    }

    private func refreshExpiry() -> Timestamp { Timestamp.now.adding(seconds: tokens.refreshLifetime) }
}
