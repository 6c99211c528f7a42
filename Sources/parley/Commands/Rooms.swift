import ArgumentParser
import ParleyClient
import ParleyCommandLine
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
