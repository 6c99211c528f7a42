import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// `parley tail ROOM...`: prints rooms' messages as they arrive, every one once and in order. It starts after the
/// last seq a tail of this profile printed (or `--since`, or the room's newest), and LiveClient resumes from the last
/// seq it holds after every reconnect, to whichever WS node takes it. A server that cannot be reached at the start is
/// waited for, as a dropped socket is. A mention of you in any room is told on standard error.
struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow rooms: print their messages as they arrive.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Room ids, @usernames or group names.") var rooms: [String]
    @Option(help: "Print messages after this seq first (0: the whole history); default: where the last tail stopped.")
    var since: Int64?

    func validate() throws {
        if rooms.isEmpty { throw ValidationError("name at least one room to follow") }
        if let since, since < 0 { throw ValidationError("--since must be 0 or more") }
    }

    func run() async throws {
        let signedIn = try SignedIn(options)
        let cursors = TailCursors(options.credentials)
        var saved = cursors.load()
        let live = LiveClient(rest: signedIn.client, urls: [signedIn.webSocketURL])
        var names: [String: String] = [:]
        for name in rooms {
            let detail = try await Reachable.retrying(signedIn, options.output) {
                try await signedIn.call { try await $0.room(try await RoomName.resolve(name, signedIn)) }
            }
            let room = detail.room.id
            for member in detail.members { names[member.user.id] = member.user.username }
            try await live.follow(room, since: since ?? saved[room] ?? detail.room.lastSeq)
        }
        let output = options.output
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await live.run() }
            group.addTask { try await signedIn.keepRenewed(live) }
            for await event in live.events {
                switch event {
                case .message(let message):
                    output.message(message, sender: names[message.sender])
                    saved[message.room] = message.seq
                    cursors.save(saved)
                case .connected(_, let node):
                    Output.error("following \(rooms.joined(separator: ", ")) on node \(node)")
                case .disconnected(let code) where code == 4001:
                    await live.stop()
                    throw CLIError("the session was signed out: run `parley login USERNAME` again", code: "unauthorized")
                case .disconnected:
                    Output.error("disconnected; reconnecting")
                case .event(.mention(let mention)):
                    // From any room of yours, followed or not; on standard error, beside the messages' stream.
                    Output.error("\(names[mention.sender] ?? mention.sender) mentioned you in \(mention.room) #\(mention.seq): \(mention.snippet)")
                case .event:
                    break
                }
            }
            // The socket ended for good: a renewal failed and stopped it; its error is the one to tell.
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

/// The last seq `tail` printed per room, beside the profile's credentials, so that the next tail starts there.
struct TailCursors {
    let file: URL

    init(_ store: CredentialStore) {
        file = store.directory.appendingPathComponent("\(store.profile).tail.json")
    }

    func load() -> [String: Int64] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [:] }
        return (try? JSONDecoder().decode([String: Int64].self, from: data)) ?? [:]
    }

    func save(_ cursors: [String: Int64]) {
        guard let data = try? JSONEncoder().encode(cursors) else { return }
        try? data.write(to: file, options: .atomic)
    }
}
