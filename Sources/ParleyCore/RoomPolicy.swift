/// Who may do what in a room. Pure rules, so that the store can apply them inside its transactions and the
/// tests can read them without a database.
public enum RoomPolicy {
    /// Renaming a group: owners and admins.
    public static func canRename(_ actor: Role) -> Bool { actor >= .admin }

    /// Allowing or forbidding the recording of a group's meetings: its owner and admins.
    public static func canSetRecording(_ actor: Role) -> Bool { actor >= .admin }

    /// Deleting a group: the owner alone.
    public static func canDelete(_ actor: Role) -> Bool { actor == .owner }

    /// Adding someone with `role`: admins add members, and only the owner adds admins. Nobody is added as owner.
    public static func canAdd(_ actor: Role, as role: Role) -> Bool {
        switch role {
        case .owner: false
        case .admin: actor == .owner
        case .member: actor >= .admin
        }
    }

    /// Changing roles is the owner's. Giving `owner` away transfers ownership.
    public static func canChangeRole(_ actor: Role) -> Bool { actor == .owner }

    /// Removing someone else: only a member of strictly higher rank. Anyone may remove themselves (leave).
    public static func canRemove(_ actor: Role, target: Role, isSelf: Bool) -> Bool {
        isSelf || actor > target
    }

    /// Ending a meeting for everyone: its host, or an owner or admin of a group. In a direct room the two
    /// members are equals, so either ends it. Anyone else leaves instead.
    public static func canEndMeeting(_ actor: Role, isHost: Bool, in kind: RoomKind) -> Bool {
        isHost || kind == .direct || actor >= .admin
    }

    /// Deleting someone else's message: owners and admins.
    public static func canDeleteMessage(_ actor: Role, isSender: Bool) -> Bool {
        isSender || actor >= .admin
    }

    /// When the owner leaves, who owns the group next: the longest-standing admin, else the longest-standing member.
    /// `members` are the remaining ones in the order they joined.
    public static func nextOwner(among members: [(userId: String, role: Role)]) -> String? {
        members.first(where: { $0.role == .admin })?.userId ?? members.first?.userId
    }
}
