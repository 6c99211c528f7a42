import Foundation
import Hummingbird
import ParleyBus
import ParleyCore
import ParleyStore

/// Sign-up, sign-in, token refresh and sign-out. Each session is a refresh-token family: its access tokens name it
/// (`sid`), and revoking it ends them on every node (`Sessions`). A browser asks for its refresh token in an
/// `HttpOnly` cookie scoped to these routes (`"cookie": true`), where no script can read it; API clients get it in
/// the JSON. Sign-ins are throttled per account and per address, registrations and refreshes per address.
struct AuthController {
    let store: any Store
    let bus: any Bus
    let tokens: Tokens
    let sessions: Sessions
    let passwords: PasswordHasher
    /// A hash of a random password, checked against when the username is unknown.
    let decoyHash: String
    let throttles: Throttles
    let trustedProxies: Set<String>

    /// The refresh cookie's name; it is sent only to `/api/auth`.
    static let cookie = "parley_refresh"

    struct Register: Decodable {
        let username: String
        let password: String
        let name: String
        let cookie: Bool?
    }

    struct Login: Decodable {
        let username: String
        let password: String
        let cookie: Bool?
    }

    struct Refresh: Decodable {
        /// Nil for a client whose refresh token is the cookie.
        let refreshToken: String?
    }

    struct Logout: Decodable {
        let refreshToken: String?
        /// Ends every session of the user's, on every device.
        let everywhere: Bool?
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("register", use: register)
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        group.post("logout", use: logout)
    }

    @Sendable func register(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Register.self, context: context)
        let username = try Validate.username(body.username)
        let password = try Validate.password(body.password)
        let name = try Validate.name(body.name)
        try await throttles.spend(.registration, by: request.clientAddress(context: context, trustedProxies: trustedProxies))
        let user = try await store.createUser(username: username, name: name, passwordHash: try await passwords.hash(password))
        return try await signedIn(user, session: Identifier.make("f"), cookie: body.cookie == true, status: .created, request, context)
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Login.self, context: context)
        // A username no account can have is no account's: answered at once, and counted against none.
        guard let account = try? Validate.username(body.username) else { throw ParleyError(.unauthorized, "wrong username or password") }
        let address = request.clientAddress(context: context, trustedProxies: trustedProxies)
        let attempt = try await throttles.beginLogin(account: account, address: address)
        let credentials = try await store.credentials(username: account)
        // An unknown user costs as much as a wrong password, and counts as one, so that neither the answer nor its
        // timing tells which usernames exist.
        let matches = try await passwords.verify(body.password, hash: credentials?.passwordHash ?? decoyHash)
        guard let user = credentials?.user, matches else {
            await throttles.loginFailed(attempt)
            throw ParleyError(.unauthorized, "wrong username or password")
        }
        await throttles.loginSucceeded(attempt)
        return try await signedIn(user, session: Identifier.make("f"), cookie: body.cookie == true, status: .ok, request, context)
    }

    @Sendable func refresh(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Refresh.self, context: context)
        try await throttles.spend(.refresh, by: request.clientAddress(context: context, trustedProxies: trustedProxies))
        let (presented, fromCookie) = try Self.refreshToken(body.refreshToken, request)
        let secret = Tokens.newRefreshSecret()
        let (userId, session): (String, String)
        do {
            (userId, session) = try await store.rotateRefreshToken(
                presentedHash: Tokens.hash(refreshSecret: presented),
                next: RefreshToken(hash: Tokens.hash(refreshSecret: secret), userId: "", familyId: "", expiresAt: refreshExpiry()),
                now: .now)
        } catch let reused as RefreshTokenReused {
            // A thief or the victim: whichever it is, the session ends everywhere, as at a logout.
            await end([reused.session], of: reused.userId, everywhere: false)
            throw reused.error
        }
        guard let user = try await store.user(id: userId) else { throw ParleyError(.unauthorized, "unknown user") }
        return try await answer(user, session: session, secret: secret, cookie: fromCookie, status: .ok, request, context)
    }

    /// Revokes the session of the refresh token presented, or every session of its user's with `everywhere`: their
    /// access tokens stop working at once on every node, and their sockets close with 4001.
    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Logout.self, context: context)
        let (presented, fromCookie) = try Self.refreshToken(body.refreshToken, request)
        // Signing out twice, or with a token already gone, is not an error: the session is over either way.
        if let (userId, session) = try await store.revokeRefreshToken(hash: Tokens.hash(refreshSecret: presented), now: .now) {
            let everywhere = body.everywhere == true
            await end(
                everywhere ? [session] + (try await store.revokeSessions(of: userId, now: .now)) : [session], of: userId, everywhere: everywhere)
        }
        var response = Response(status: .noContent)
        if fromCookie { response.headers[.setCookie] = Self.setCookie(nil, maxAge: 0) }
        return response
    }

    /// Ends sessions the store has revoked: their access tokens on every node, and their sockets (every socket of
    /// the user's, `everywhere`).
    private func end(_ ended: [String], of userId: String, everywhere: Bool) async {
        await sessions.announceRevoked(ended)
        let closed = Event.sessionClosed(session: everywhere ? nil : ended.first)
        _ = try? await bus.publish(try Frames.encode(closed), to: Channel.user(userId))
    }

    /// A new session's first tokens.
    private func signedIn(
        _ user: User, session: String, cookie: Bool, status: HTTPResponse.Status, _ request: Request, _ context: AppRequestContext
    ) async throws -> Response {
        let secret = Tokens.newRefreshSecret()
        try await store.insertRefreshToken(
            RefreshToken(hash: Tokens.hash(refreshSecret: secret), userId: user.id, familyId: session, expiresAt: refreshExpiry()))
        return try await answer(user, session: session, secret: secret, cookie: cookie, status: status, request, context)
    }

    /// The session's answer: the refresh secret in the JSON, or in the cookie.
    private func answer(
        _ user: User, session: String, secret: String, cookie: Bool, status: HTTPResponse.Status, _ request: Request,
        _ context: AppRequestContext
    ) async throws -> Response {
        let access = try await tokens.accessToken(for: user.id, session: session)
        let body = Session(user: user, accessToken: access, refreshToken: cookie ? nil : secret, expiresIn: tokens.accessLifetime)
        var response = try JSONBody(body, status: status).response(from: request, context: context)
        if cookie { response.headers[.setCookie] = Self.setCookie(secret, maxAge: tokens.refreshLifetime) }
        return response
    }

    /// The refresh token of the body, else of the cookie, and whether it came from the cookie.
    private static func refreshToken(_ field: String?, _ request: Request) throws -> (String, fromCookie: Bool) {
        if let field { return (field, false) }
        let cookies = request.headers[values: .cookie].flatMap { $0.split(separator: ";") }
        guard let cookie = cookies.lazy.map({ $0.trimmingCharacters(in: .whitespaces) }).first(where: { $0.hasPrefix(Self.cookie + "=") })
        else { throw ParleyError(.unauthorized, "send refreshToken, or sign in with a cookie") }
        return (String(cookie.dropFirst(Self.cookie.count + 1)), true)
    }

    /// `Secure`, so that it never travels over plain HTTP but to localhost; `SameSite=Strict`, so that no other
    /// site's request carries it.
    private static func setCookie(_ secret: String?, maxAge: Int64) -> String {
        "\(cookie)=\(secret ?? ""); Path=/api/auth; Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Strict"
    }

    private func refreshExpiry() -> Timestamp { Timestamp.now.adding(seconds: tokens.refreshLifetime) }
}
