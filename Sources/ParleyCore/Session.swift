/// What every sign-in answers (`register`, `login`, `refresh`): the user and their tokens.
public struct Session: Codable, Sendable, Hashable {
    public var user: User
    public var accessToken: String
    /// Nil when it went in the HttpOnly cookie instead (`"cookie": true`).
    public var refreshToken: String?
    /// Seconds until `accessToken` expires.
    public var expiresIn: Int64

    public init(user: User, accessToken: String, refreshToken: String?, expiresIn: Int64) {
        self.user = user
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
    }
}
