import ParleyClient
import ParleyCore

/// A ROOM argument: a room id, `@username` for the direct room with a contact, or a group's name.
public enum RoomName {
    public static func resolve(_ name: String, _ signedIn: SignedIn) async throws -> String {
        if name.hasPrefix("@") {
            let username = String(name.dropFirst()).lowercased()
            let contacts = try await signedIn.call { try await $0.contacts() }
            guard let contact = contacts.first(where: { $0.user.username == username }) else {
                throw CLIError("@\(username) is not one of your contacts: `parley contacts add \(username)` first", code: "not_found")
            }
            return contact.room
        }
        let rooms = try await signedIn.call { try await $0.rooms() }
        if rooms.contains(where: { $0.id == name }) { return name }
        let groups = rooms.filter { $0.kind == .group && $0.name == name }
        if groups.count > 1 { throw CLIError("\(groups.count) of your groups are named \(name): use a room id", code: "conflict") }
        // Neither a room of yours nor a group's name: the server says what it makes of it.
        return groups.first?.id ?? name
    }
}

/// A username to a user id, for the calls that take ids.
public enum UserName {
    public static func resolve(_ username: String, _ signedIn: SignedIn) async throws -> User {
        let name = (username.hasPrefix("@") ? String(username.dropFirst()) : username).lowercased()
        let users = try await signedIn.call { try await $0.searchUsers(name) }
        guard let user = users.first(where: { $0.username == name }) else { throw CLIError("no user \(name)", code: "not_found") }
        return user
    }
}
