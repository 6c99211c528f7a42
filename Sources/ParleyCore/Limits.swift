/// The sizes Parley accepts. Each is checked where input enters, and each breach is an `invalid_field` error.
public enum Limits {
    /// Usernames: 3 to 32 of `a-z 0-9 . _ -`, stored lowercase.
    public static let username = 3...32
    /// Passwords: at least 8 characters, and at most 72 bytes, because bcrypt reads no further.
    public static let passwordCharacters = 8
    public static let passwordBytes = 72
    /// Display names and group names.
    public static let name = 1...64
    /// Message text, in characters.
    public static let text = 1...4000
    /// A group's members at creation.
    public static let groupMembers = 256
    /// Page sizes for history and search.
    public static let pageSize = 1...200
    public static let defaultPageSize = 50
    /// Search queries.
    public static let query = 1...64
    /// A session description in an offer or answer signal.
    public static let sdpBytes = 32 * 1024
    /// One ICE candidate line.
    public static let candidateBytes = 1024
    /// Files sent with one message.
    public static let filesPerMessage = 10
    /// Different emoji on one message; members may add theirs to those already there.
    public static let emojisPerMessage = 20
    /// A whole REST request body.
    public static let requestBodyBytes = 64 * 1024
}
