/// A person with an account.
public struct User: Codable, Hashable, Sendable {
    public var id: String
    /// Unique, lowercase, chosen at sign-up.
    public var username: String
    /// Display name.
    public var name: String
    /// Where their picture is (`/api/avatars/NAME`); nil when they have none, and clients show initials.
    public var avatar: String?

    public init(id: String, username: String, name: String, avatar: String? = nil) {
        self.id = id
        self.username = username
        self.name = name
        self.avatar = avatar
    }

    /// The recorder's id: the system user that recordings of meetings are posted by, and that attends the
    /// meetings it records. It is no member of any room, and nobody signs in as it.
    public static let recorderId = "recorder"
    /// The recorder as user objects show it.
    public static let recorder = User(id: recorderId, username: "parley:recorder", name: "Recorder")

    /// The path an avatar image of this name is served at.
    public static func avatarPath(_ name: String) -> String { "/api/avatars/\(name)" }
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
