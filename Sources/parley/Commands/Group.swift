import ArgumentParser
import ParleyClient
import ParleyCommandLine
import ParleyCore

extension Role: ExpressibleByArgument {}

/// `parley group create|add|remove|role`: group rooms and their members.
struct Group: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a group, and add, remove or promote its members.", subcommands: [Create.self, Add.self, Remove.self, SetRole.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group; you own it.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The group's name.") var name: String
        @Option(name: .customLong("member"), help: "A username to add (repeat for more).") var members: [String] = []

        func run() async throws {
            let signedIn = try SignedIn(options)
            var ids: [String] = []
            for member in members { ids.append(try await UserName.resolve(member, signedIn).id) }
            let detail = try await signedIn.call { [name, ids] in try await $0.createGroup(name: name, members: ids) }
            options.output.emit(detail, "Created \(detail.room.name) (\(detail.room.id)) with \(detail.members.count) members.")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add someone to a group.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The group: its name or room id.") var room: String
        @Argument(help: "Their username.") var username: String
        @Option(help: "owner, admin or member.") var role: Role = .member

        func run() async throws {
            let signedIn = try SignedIn(options)
            let room = try await RoomName.resolve(room, signedIn)
            let user = try await UserName.resolve(username, signedIn)
            let member = try await signedIn.call { [role] in try await $0.addMember(room: room, user: user.id, role: role) }
            options.output.emit(member, "Added \(user.username) as \(member.role.rawValue).")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove someone from a group; yourself to leave it.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The group: its name or room id.") var room: String
        @Argument(help: "Their username.") var username: String

        func run() async throws {
            let signedIn = try SignedIn(options)
            let room = try await RoomName.resolve(room, signedIn)
            let user = try await UserName.resolve(username, signedIn)
            try await signedIn.call { try await $0.removeMember(room: room, user: user.id) }
            options.output.emit(["room": room, "removed": user.username], "Removed \(user.username).")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Change a member's role.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The group: its name or room id.") var room: String
        @Argument(help: "Their username.") var username: String
        @Argument(help: "owner, admin or member.") var role: Role

        func run() async throws {
            let signedIn = try SignedIn(options)
            let room = try await RoomName.resolve(room, signedIn)
            let user = try await UserName.resolve(username, signedIn)
            let detail = try await signedIn.call { [role] in try await $0.changeRole(room: room, user: user.id, role: role) }
            options.output.emit(detail, "\(user.username) is now \(role.rawValue).")
        }
    }
}
