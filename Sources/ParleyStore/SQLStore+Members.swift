import ParleyCore

extension SQLStore {
    public func addMember(room: String, user: String, role: Role, actor: String) async throws -> Member {
        try await transaction(conflict: "already a member") { sql in
            let actorRole = try await Self.groupRole(of: actor, in: room, sql)
            guard RoomPolicy.canAdd(actorRole, as: role) else {
                throw ParleyError.forbidden(role == .admin ? "only the owner adds admins" : "only owners and admins add members")
            }
            // The recorder is nobody's member.
            guard
                let row = try await sql.first(
                    "SELECT \(Self.userColumns) FROM users u WHERE u.id = ? AND u.id <> ?", [.text(user), .text(User.recorderId)])
            else {
                throw ParleyError.notFound("user")
            }
            try await sql.execute(
                "INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
                [.text(room), .text(user), .text(role.rawValue), .int(Timestamp.now.milliseconds)])
            return Member(user: try Self.user(from: row), role: role, lastReadSeq: 0)
        }
    }

    public func changeRole(room: String, user: String, role: Role, actor: String) async throws -> RoomDetail {
        try await transaction { sql in
            let actorRole = try await Self.groupRole(of: actor, in: room, sql)
            guard RoomPolicy.canChangeRole(actorRole) else { throw ParleyError.forbidden("only the owner changes roles") }
            let current = try await Self.memberRole(of: user, in: room, sql)
            if user == actor, role != current {
                throw ParleyError.forbidden("give ownership to another member instead")
            }
            if role == .owner && user != actor {
                // Ownership moves; the old owner stays on as an admin.
                try await Self.setRole(.admin, of: actor, in: room, sql)
            }
            try await Self.setRole(role, of: user, in: room, sql)
            return try await Self.detail(room, viewer: actor, sql)
        }
    }

    public func removeMember(room: String, user: String, actor: String) async throws -> MemberRemoval {
        try await transaction { sql in
            let actorRole = try await Self.groupRole(of: actor, in: room, sql)
            let targetRole = try await Self.memberRole(of: user, in: room, sql)
            guard RoomPolicy.canRemove(actorRole, target: targetRole, isSelf: user == actor) else {
                throw ParleyError.forbidden("you may remove only members below your role")
            }
            try await sql.execute("DELETE FROM room_members WHERE room_id = ? AND user_id = ?", [.text(room), .text(user)])

            let remaining = try await sql.query(
                "SELECT user_id, role FROM room_members WHERE room_id = ? ORDER BY joined_at, user_id", [.text(room)]
            ).map { (userId: try $0.text(0), role: Role(rawValue: try $0.text(1)) ?? .member) }
            guard !remaining.isEmpty else {
                try await removeRoom(room, sql)
                return MemberRemoval(newOwner: nil, roomDeleted: true)
            }
            guard targetRole == .owner, let next = RoomPolicy.nextOwner(among: remaining) else {
                return MemberRemoval(newOwner: nil, roomDeleted: false)
            }
            try await Self.setRole(.owner, of: next, in: room, sql)
            return MemberRemoval(newOwner: next, roomDeleted: false)
        }
    }

    private static func memberRole(of user: String, in room: String, _ sql: any SQLExecutor) async throws -> Role {
        guard let row = try await sql.first("SELECT role FROM room_members WHERE room_id = ? AND user_id = ?", [.text(room), .text(user)])
        else { throw ParleyError.notFound("member") }
        return Role(rawValue: try row.text(0)) ?? .member
    }

    private static func setRole(_ role: Role, of user: String, in room: String, _ sql: any SQLExecutor) async throws {
        try await sql.execute(
            "UPDATE room_members SET role = ? WHERE room_id = ? AND user_id = ?", [.text(role.rawValue), .text(room), .text(user)])
    }
}
