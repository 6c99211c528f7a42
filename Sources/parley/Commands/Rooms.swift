import ArgumentParser
import ParleyClient
import ParleyCore

/// `parley users QUERY`: finds people by username or name.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Find people by username or name.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Part of a username or name.") var query: String

    func run() async throws {
        let users = try await SignedIn(options).call { [query] in try await $0.searchUsers(query) }
        for user in users { options.output.emit(user, "\(user.username)\t\(user.name)") }
    }
}

/// `parley contacts`, `parley contacts add USERNAME`.
struct Contacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List your contacts, or add one.", subcommands: [List.self, Add.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your contacts and their direct rooms.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let contacts = try await SignedIn(options).call { try await $0.contacts() }
            for contact in contacts {
                options.output.emit(contact, "@\(contact.user.username)\t\(contact.user.name)\t\(contact.room)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a contact; you share a direct room from then on.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Their username.") var username: String

        func run() async throws {
            let contact = try await SignedIn(options).call { [username] in try await $0.addContact(username: username) }
            options.output.emit(contact, "Added @\(contact.user.username) (\(contact.user.name)); your room: \(contact.room)")
        }
    }
}

/// `parley rooms`: your rooms, newest activity first as the server orders them.
struct Rooms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List your rooms.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let rooms = try await SignedIn(options).call { try await $0.rooms() }
        for room in rooms {
            let name = room.peer.map { "@\($0.username)" } ?? room.name
            options.output.emit(room, "\(room.id)\t\(room.kind.rawValue)\t\(name)\t\(room.unread) unread\tlast #\(room.lastSeq)")
        }
    }
}

/// A ROOM argument: a room id, `@username` for the direct room with a contact, or a group's name.
enum RoomName {
    static func resolve(_ name: String, _ signedIn: SignedIn) async throws -> String {
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
enum UserName {
    static func resolve(_ username: String, _ signedIn: SignedIn) async throws -> User {
        let name = (username.hasPrefix("@") ? String(username.dropFirst()) : username).lowercased()
        let users = try await signedIn.call { try await $0.searchUsers(name) }
        guard let user = users.first(where: { $0.username == name }) else { throw CLIError("no user \(name)", code: "not_found") }
        return user
    }
}
