import ParleyCore

extension SQLStore {
    public func addContact(owner: String, username: String) async throws -> (contact: Contact, created: Bool) {
        try await transaction { sql in
            guard let row = try await sql.first("SELECT \(Self.userColumns) FROM users u WHERE u.username = ?", [.text(username)])
            else { throw ParleyError.notFound("user") }
            let peer = try Self.user(from: row)
            guard peer.id != owner else { throw ParleyError.invalid("username", "is your own") }

            if let existing = try await sql.first(
                "SELECT room_id FROM contacts WHERE owner_id = ? AND contact_id = ?", [.text(owner), .text(peer.id)])
            {
                return (Contact(user: peer, room: try existing.text(0)), false)
            }
            let room = try await Self.directRoom(between: owner, and: peer.id, sql)
            let now = Timestamp.now.milliseconds
            for (from, to) in [(owner, peer.id), (peer.id, owner)] {
                try await sql.execute(
                    "INSERT INTO contacts (owner_id, contact_id, room_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [.text(from), .text(to), .text(room), .int(now)])
            }
            return (Contact(user: peer, room: room), true)
        }
    }

    /// The direct room of two users, created on first use. Both sides adding each other at once meet at the
    /// unique `direct_key`: the second insert does nothing and both read the same room.
    private static func directRoom(between a: String, and b: String, _ sql: any SQLExecutor) async throws -> String {
        let key = [a, b].sorted().joined(separator: ":")
        let now = Timestamp.now.milliseconds
        try await sql.execute(
            "INSERT INTO rooms (id, kind, direct_key, created_at) VALUES (?, 'direct', ?, ?) ON CONFLICT DO NOTHING",
            [.text(Identifier.make("r")), .text(key), .int(now)])
        let room = try await sql.first("SELECT id FROM rooms WHERE direct_key = ?", [.text(key)])!.text(0)
        for user in [a, b] {
            try await sql.execute(
                "INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?) ON CONFLICT DO NOTHING",
                [.text(room), .text(user), .int(now)])
        }
        return room
    }

    public func contacts(of user: String) async throws -> [Contact] {
        try await read { sql in
            try await sql.query(
                """
                SELECT \(Self.userColumns), c.room_id FROM contacts c JOIN users u ON u.id = c.contact_id
                WHERE c.owner_id = ? ORDER BY lower(u.name), u.username
                """, [.text(user)]
            ).map { Contact(user: try Self.user(from: $0), room: try $0.text(4)) }
        }
    }
}
