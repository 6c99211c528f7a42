import ParleyCore
import Testing

@testable import ParleyStore

@Suite("Users, contacts, rooms and members, on every store")
struct RoomStoreTests {
    @Test("usernames are unique and search finds names and usernames", arguments: Backend.allCases)
    func users(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            _ = try await store.createUser(username: "alicia_k", name: "Alicia Keys", passwordHash: "h")
            _ = try await store.createUser(username: "bob", name: "Robert 100%", passwordHash: "h")
            await expectError(.conflict) { try await store.createUser(username: "alice", name: "Other", passwordHash: "h") }

            #expect(try await store.searchUsers("alice", limit: 10).map(\.username) == ["alice"])
            #expect(try await store.searchUsers("ali", limit: 10).map(\.username) == ["alice", "alicia_k"])
            #expect(try await store.searchUsers("KEYS", limit: 10).map(\.username) == ["alicia_k"])
            #expect(try await store.searchUsers("100%", limit: 10).map(\.username) == ["bob"])
            // Wildcards in the query are literal: "_" matches only an underscore.
            #expect(try await store.searchUsers("a_i", limit: 10).isEmpty)
            #expect(try await store.searchUsers("ali", limit: 1).count == 1)
            #expect(try await store.credentials(username: "alice")?.user == alice)
            #expect(try await store.user(id: alice.id) == alice)
        }
    }

    @Test("the rooms of several users are read at once", arguments: Backend.allCases)
    func roomIdsOfUsers(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let carol = try await store.makeUser("Carol")
            let direct = try await store.addContact(owner: alice.id, username: bob.username).contact.room
            let group = try await store.createGroup(owner: alice.id, name: "Plans", members: [carol.id]).room.id
            let rooms = try await store.roomIds(of: [alice.id, bob.id, carol.id, "u_nobody"])
            #expect(rooms == [alice.id: [direct, group].sorted(), bob.id: [direct], carol.id: [group]])
            #expect(try await store.roomIds(of: []).isEmpty)
        }
    }

    @Test("adding a contact is idempotent from either side and shares one direct room", arguments: Backend.allCases)
    func contacts(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let first = try await store.addContact(owner: alice.id, username: "bob")
            let again = try await store.addContact(owner: alice.id, username: "bob")
            let reverse = try await store.addContact(owner: bob.id, username: "alice")
            #expect(first.created && !again.created && !reverse.created)
            #expect(first.contact.room == again.contact.room && first.contact.room == reverse.contact.room)
            #expect(try await store.contacts(of: alice.id) == [Contact(user: bob, room: first.contact.room)])
            #expect(try await store.contacts(of: bob.id) == [Contact(user: alice, room: first.contact.room)])
            #expect(try await store.rooms(of: bob.id).map(\.kind) == [.direct])
            await expectError(.notFound) { try await store.addContact(owner: alice.id, username: "nobody") }
            await expectError(.invalidField) { try await store.addContact(owner: alice.id, username: "alice") }
            // A direct room has no roles to act with.
            await expectError(.forbidden) { try await store.renameRoom(first.contact.room, name: "x", actor: alice.id) }
            await expectError(.forbidden) { try await store.removeMember(room: first.contact.room, user: bob.id, actor: alice.id) }
        }
    }

    @Test("both sides adding each other at once meet in the same direct room", arguments: Backend.allCases)
    func simultaneousContacts(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            async let a = store.addContact(owner: alice.id, username: "bob")
            async let b = store.addContact(owner: bob.id, username: "alice")
            let (fromAlice, fromBob) = try await (a, b)
            #expect(fromAlice.contact.room == fromBob.contact.room)
            #expect(try await store.rooms(of: alice.id).count == 1)
        }
    }

    @Test("roles: admins add members, only the owner adds admins and changes roles", arguments: Backend.allCases)
    func roles(backend: Backend) async throws {
        try await backend.withStore { store in
            let owner = try await store.makeUser("Olive")
            let admin = try await store.makeUser("Adam")
            let member = try await store.makeUser("Max")
            let newcomer = try await store.makeUser("Nina")
            let room = try await store.createGroup(owner: owner.id, name: "Team", members: [member.id]).room.id

            _ = try await store.addMember(room: room, user: admin.id, role: .admin, actor: owner.id)
            await expectError(.forbidden) { try await store.addMember(room: room, user: newcomer.id, role: .member, actor: member.id) }
            await expectError(.forbidden) { try await store.addMember(room: room, user: newcomer.id, role: .admin, actor: admin.id) }
            _ = try await store.addMember(room: room, user: newcomer.id, role: .member, actor: admin.id)
            await expectError(.conflict) { try await store.addMember(room: room, user: newcomer.id, role: .member, actor: owner.id) }
            await expectError(.notFound) { try await store.addMember(room: room, user: "u_nobody", role: .member, actor: owner.id) }

            await expectError(.forbidden) { try await store.changeRole(room: room, user: member.id, role: .admin, actor: admin.id) }
            let promoted = try await store.changeRole(room: room, user: member.id, role: .admin, actor: owner.id)
            #expect(promoted.members.first { $0.user.id == member.id }?.role == .admin)

            // Admins remove members but not other admins; renaming is theirs too.
            await expectError(.forbidden) { try await store.removeMember(room: room, user: member.id, actor: admin.id) }
            _ = try await store.removeMember(room: room, user: newcomer.id, actor: admin.id)
            #expect(try await store.renameRoom(room, name: "Crew", actor: admin.id).room.name == "Crew")
            await expectError(.forbidden) { try await store.deleteRoom(room, actor: admin.id) }
            await expectError(.notFound) { try await store.room(room, viewer: newcomer.id) }

            // Giving ownership away leaves the old owner an admin.
            let transferred = try await store.changeRole(room: room, user: admin.id, role: .owner, actor: owner.id)
            #expect(transferred.members.first { $0.user.id == admin.id }?.role == .owner)
            #expect(transferred.members.first { $0.user.id == owner.id }?.role == .admin)
            #expect(Set(try await store.deleteRoom(room, actor: admin.id)) == [owner.id, admin.id, member.id])
            #expect(try await store.rooms(of: owner.id).isEmpty)
        }
    }

    @Test("an owner who leaves hands ownership on; the last member to leave deletes the group", arguments: Backend.allCases)
    func leaving(backend: Backend) async throws {
        try await backend.withStore { store in
            let owner = try await store.makeUser("Olive")
            let first = try await store.makeUser("Max")
            let admin = try await store.makeUser("Adam")
            let room = try await store.createGroup(owner: owner.id, name: "Team", members: [first.id]).room.id
            _ = try await store.addMember(room: room, user: admin.id, role: .admin, actor: owner.id)

            // The admin outranks the longer-standing member.
            #expect(
                try await store.removeMember(room: room, user: owner.id, actor: owner.id) == MemberRemoval(newOwner: admin.id, roomDeleted: false))
            #expect(
                try await store.removeMember(room: room, user: admin.id, actor: admin.id) == MemberRemoval(newOwner: first.id, roomDeleted: false))
            #expect(try await store.room(room, viewer: first.id).members.map(\.role) == [.owner])
            #expect(try await store.removeMember(room: room, user: first.id, actor: first.id) == MemberRemoval(newOwner: nil, roomDeleted: true))
            #expect(try await store.rooms(of: first.id).isEmpty)
        }
    }

    @Test("a rotated refresh token cannot be used twice, and reusing it revokes the whole family", arguments: Backend.allCases)
    func refreshRotation(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let later = Timestamp.now.adding(seconds: 3600)
            try await store.insertRefreshToken(RefreshToken(hash: "t1", userId: alice.id, familyId: "f1", expiresAt: later))
            let next = { (hash: String) in RefreshToken(hash: hash, userId: "", familyId: "", expiresAt: later) }

            #expect(try await store.rotateRefreshToken(presentedHash: "t1", next: next("t2"), now: .now) == (alice.id, "f1"))
            #expect(try await store.isLiveSession("f1", user: alice.id))
            await #expect(throws: RefreshTokenReused.self) { try await store.rotateRefreshToken(presentedHash: "t1", next: next("t3"), now: .now) }
            // The thief's reuse also ended the legitimate holder's session.
            await expectError(.unauthorized) { try await store.rotateRefreshToken(presentedHash: "t2", next: next("t4"), now: .now) }
            await expectError(.unauthorized) { try await store.rotateRefreshToken(presentedHash: "nope", next: next("t5"), now: .now) }

            try await store.insertRefreshToken(RefreshToken(hash: "old", userId: alice.id, familyId: "f2", expiresAt: .now.adding(seconds: -1)))
            await expectError(.unauthorized) { try await store.rotateRefreshToken(presentedHash: "old", next: next("t6"), now: .now) }

            try await store.insertRefreshToken(RefreshToken(hash: "s1", userId: alice.id, familyId: "f3", expiresAt: later))
            #expect(try await store.isLiveSession("f3", user: alice.id))
            #expect(try await !store.isLiveSession("f3", user: "u_other"))
            #expect(try await store.revokeRefreshToken(hash: "s1", now: .now).map { [$0.userId, $0.session] } == [alice.id, "f3"])
            await expectError(.unauthorized) { try await store.rotateRefreshToken(presentedHash: "s1", next: next("t7"), now: .now) }
            // The reuse above revoked f1: no session lives, and one more is revoked everywhere.
            #expect(try await !store.isLiveSession("f1", user: alice.id))
            #expect(try await !store.isLiveSession("f3", user: alice.id))
            try await store.insertRefreshToken(RefreshToken(hash: "e1", userId: alice.id, familyId: "f4", expiresAt: later))
            try await store.insertRefreshToken(RefreshToken(hash: "e2", userId: alice.id, familyId: "f5", expiresAt: later))
            // f2's token expired, but nothing revoked it.
            #expect(Set(try await store.revokeSessions(of: alice.id, now: .now)) == ["f2", "f4", "f5"])
            #expect(try await !store.isLiveSession("f4", user: alice.id))
            #expect(try await !store.isLiveSession("f5", user: alice.id))
        }
    }

    @Test("migrating again applies nothing", arguments: Backend.allCases)
    func migrationsRunOnce(backend: Backend) async throws {
        try await backend.withStore { store in
            #expect(try await store.migrate().isEmpty)
            try await store.ping()
        }
    }

    @Test("a migration splits at semicolons that end a line, but a dollar-quoted body stays one statement")
    func migrationStatements() {
        let sql = """
            -- a comment;
            CREATE TABLE a (x INT);
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1;
                RETURN 2;
            END
            $$;
            INSERT INTO a VALUES (1);
            """
        let statements = Migrator.statements(in: sql)
        #expect(statements.count == 3)
        #expect(statements[0] == "CREATE TABLE a (x INT)")
        #expect(statements[1].hasPrefix("CREATE FUNCTION") && statements[1].contains("RETURN 2;") && statements[1].hasSuffix("$$"))
        #expect(statements[2] == "INSERT INTO a VALUES (1)")
    }
}
