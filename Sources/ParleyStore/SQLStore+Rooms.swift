import ParleyCore

extension SQLStore {
    public func rooms(of user: String) async throws -> [RoomSummary] {
        try await read { sql in try await Self.summaries(of: user, sql) }
    }

    public func roomIds(of users: [String]) async throws -> [String: [String]] {
        guard !users.isEmpty else { return [:] }
        return try await read { sql in
            try await sql.query(
                "SELECT user_id, room_id FROM room_members WHERE user_id IN (\(Self.placeholders(users.count))) ORDER BY room_id",
                users.map { .text($0) }
            ).reduce(into: [:]) { rooms, row in rooms[try row.text(0), default: []].append(try row.text(1)) }
        }
    }

    public func role(of user: String, in room: String) async throws -> Role? {
        try await roleReads.submit(Membership(room: room, user: user)) { [self] batch in
            let roles = try await read { sql in try await sql.roles(Set(batch)) }
            return batch.map { roles[$0] }
        }
    }

    public func room(_ id: String, viewer: String) async throws -> RoomDetail {
        try await read { sql in try await Self.detail(id, viewer: viewer, sql) }
    }

    public func createGroup(owner: String, name: String, members: [String]) async throws -> RoomDetail {
        let others = Array(Set(members).subtracting([owner])).sorted()
        guard others.count < Limits.groupMembers else {
            throw ParleyError.invalid("members", "may hold at most \(Limits.groupMembers - 1) users besides you")
        }
        return try await transaction { sql in
            for user in others
            where try await sql.first("SELECT 1 FROM users WHERE id = ? AND id <> ?", [.text(user), .text(User.recorderId)]) == nil {
                throw ParleyError.notFound("user \(user)")
            }
            let room = Identifier.make("r")
            let now = Timestamp.now.milliseconds
            try await sql.execute(
                "INSERT INTO rooms (id, kind, name, created_at) VALUES (?, 'group', ?, ?)", [.text(room), .text(name), .int(now)])
            for (user, role) in [(owner, Role.owner)] + others.map({ ($0, Role.member) }) {
                try await sql.execute(
                    "INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
                    [.text(room), .text(user), .text(role.rawValue), .int(now)])
            }
            return try await Self.detail(room, viewer: owner, sql)
        }
    }

    public func renameRoom(_ id: String, name: String, actor: String) async throws -> RoomDetail {
        try await transaction { sql in
            let role = try await Self.groupRole(of: actor, in: id, sql)
            guard RoomPolicy.canRename(role) else { throw ParleyError.forbidden("only owners and admins rename a group") }
            try await sql.execute("UPDATE rooms SET name = ? WHERE id = ?", [.text(name), .text(id)])
            return try await Self.detail(id, viewer: actor, sql)
        }
    }

    public func deleteRoom(_ id: String, actor: String) async throws -> [String] {
        try await transaction { sql in
            let role = try await Self.groupRole(of: actor, in: id, sql)
            guard RoomPolicy.canDelete(role) else { throw ParleyError.forbidden("only the owner deletes a group") }
            let members = try await Self.memberIds(of: id, sql)
            try await removeRoom(id, sql)
            return members
        }
    }

    /// Deletes a room with all it holds, its files' bytes put in the trash. Its open meetings are locked first, as a
    /// meeting that ends locks its meeting and then its room (for the end's entry in the timeline): taken in the same
    /// order here, the two never wait for each other.
    func removeRoom(_ room: String, _ sql: any SQLExecutor) async throws {
        _ = try await sql.query(
            "SELECT id FROM meetings WHERE room_id = ? AND state IN ('ringing', 'active') ORDER BY id" + dialect.forUpdate, [.text(room)])
        try await Self.trashFiles(ofRoom: room, sql)
        try await sql.execute("DELETE FROM rooms WHERE id = ?", [.text(room)])
    }

    /// The actor's role in a group. Direct rooms have no roles to act with, so any change to one is forbidden.
    static func groupRole(of user: String, in room: String, _ sql: any SQLExecutor) async throws -> Role {
        let role = try await sql.role(of: user, in: room)
        let kind = try await sql.first("SELECT kind FROM rooms WHERE id = ?", [.text(room)])!.text(0)
        guard kind == RoomKind.group.rawValue else { throw ParleyError.forbidden("a direct room cannot be changed") }
        return role
    }

    static func memberIds(of room: String, _ sql: any SQLExecutor) async throws -> [String] {
        try await sql.query("SELECT user_id FROM room_members WHERE room_id = ? ORDER BY joined_at, user_id", [.text(room)])
            .map { try $0.text(0) }
    }

    static func detail(_ room: String, viewer: String, _ sql: any SQLExecutor) async throws -> RoomDetail {
        guard let summary = try await summaries(of: viewer, only: room, sql).first else { throw ParleyError.notFound("room") }
        let members = try await sql.query(
            """
            SELECT \(userColumns), rm.role, rm.last_read_seq FROM room_members rm JOIN users u ON u.id = rm.user_id
            WHERE rm.room_id = ? ORDER BY rm.joined_at, u.username
            """, [.text(room)]
        ).map { row in
            Member(user: try user(from: row), role: Role(rawValue: try row.text(4)) ?? .member, lastReadSeq: try row.int(5))
        }
        return RoomDetail(room: summary, members: members)
    }

    /// The viewer's rooms, newest activity first, each with its last message, unread count, open meeting and,
    /// for a direct room, the other member.
    static func summaries(of viewer: String, only room: String? = nil, _ sql: any SQLExecutor) async throws -> [RoomSummary] {
        let rows = try await sql.query(
            """
            SELECT r.id, r.kind, r.name, r.last_seq, r.created_at, rm.role, \(unreadCount), rm.last_read_seq,
                (SELECT COUNT(*) FROM messages x WHERE x.room_id = r.id AND x.seq > rm.last_read_seq AND x.sender_id <> rm.user_id
                    AND x.call_outcome IN \(missedOutcomes)),
                (SELECT COUNT(*) FROM room_members c WHERE c.room_id = r.id), r.recording_allowed,
                p.id, p.username, p.name, p.avatar,
                \(messageColumns), \(meetingColumns)
            FROM room_members rm
            JOIN rooms r ON r.id = rm.room_id
            LEFT JOIN room_members pm ON r.kind = 'direct' AND pm.room_id = r.id AND pm.user_id <> rm.user_id
            LEFT JOIN users p ON p.id = pm.user_id
            LEFT JOIN messages m ON m.room_id = r.id AND m.seq = r.last_seq
            LEFT JOIN meetings mt ON mt.room_id = r.id AND mt.state IN ('ringing', 'active')
            WHERE rm.user_id = ?\(room == nil ? "" : " AND r.id = ?")
            ORDER BY COALESCE(m.sent_at, r.created_at) DESC, r.id
            """, [.text(viewer)] + (room.map { [.text($0)] } ?? []))
        let messageAt = 15
        let meetingAt = messageAt + messageColumnCount
        var summaries: [RoomSummary] = []
        for row in rows {
            let peer = row.isNull(11) ? nil : try user(from: row, at: 11)
            let openMeeting = row.isNull(meetingAt) ? nil : try await withAttendees(try Self.meeting(from: row, at: meetingAt), sql)
            summaries.append(
                RoomSummary(
                    id: try row.text(0),
                    kind: RoomKind(rawValue: try row.text(1)) ?? .group,
                    name: try row.optionalText(2) ?? peer?.name ?? "",
                    peer: peer,
                    role: Role(rawValue: try row.text(5)) ?? .member,
                    lastSeq: try row.int(3),
                    lastMessage: row.isNull(messageAt) ? nil : try message(from: row, at: messageAt),
                    unread: try row.int(6),
                    lastRead: try row.int(7),
                    missedCalls: try row.int(8),
                    memberCount: Int(try row.int(9)),
                    meeting: openMeeting,
                    recordingAllowed: try row.int(10) != 0,
                    createdAt: Timestamp(milliseconds: try row.int(4))))
        }
        return summaries
    }
}
