/// A person with an account.
public struct User: Codable, Hashable, Sendable {
    public var id: String
    /// Unique, lowercase, chosen at sign-up.
    public var username: String
    /// Display name.
    public var name: String

    public init(id: String, username: String, name: String) {
        self.id = id
        self.username = username
        self.name = name
    }
}

/// A contact of the caller, with the direct room the two of them share.
public struct Contact: Codable, Hashable, Sendable {
    public var user: User
    public var room: String

    public init(user: User, room: String) {
        self.user = user
        self.room = room
    }
}
