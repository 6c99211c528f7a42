import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// `parley chat ROOM`: talk in a room. Messages print as they come, above the line being typed; the others see that
/// the user types, and what the user has read; the user sees the same of them, and their edits and reactions.
/// `/reply SEQ TEXT`, `/edit SEQ TEXT` and `/react SEQ EMOJI` act on a message; `/quit` or Ctrl-D leaves.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk in a room: its messages as they come, typing and read marks both ways; /quit leaves.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A room id, @username or group name.") var room: String
    @Option(help: "How many of the room's last messages to show first.") var last: Int64 = 10

    /// The shortest time between two `typing` frames while the user types.
    static let typingEvery = Duration.seconds(3)

    func run() async throws {
        let signedIn = try SignedIn(options)
        let detail = try await Reachable.retrying(signedIn, options.output) { [name = self.room] in
            try await signedIn.call { try await $0.room(try await RoomName.resolve(name, signedIn)) }
        }
        let room = detail.room.id
        let names = Dictionary(detail.members.map { ($0.user.id, $0.user.username) }) { first, _ in first }
        let user = await signedIn.user
        let me = user.id
        let live = LiveClient(rest: signedIn.client, urls: [signedIn.webSocketURL])
        try await live.follow(room, since: max(0, detail.room.lastSeq - max(last, 0)))
        let terminal = Terminal(prompt: "\(user.username)> ")
        terminal.enterRawMode()
        defer { terminal.restore() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await live.run() }
            group.addTask { try await signedIn.keepRenewed(live) }
            group.addTask {
                try await Self.show(live.events, room: room, named: detail.room.name, me: me, names: names, on: terminal) { seq in
                    // What reaches the screen is read.
                    _ = try? await live.request(.read(room: room, seq: seq))
                }
            }
            var typedAt: ContinuousClock.Instant?
            typing: while true {
                switch try await terminal.next() {
                case .typing:
                    guard typedAt.map({ ContinuousClock.now - $0 >= Self.typingEvery }) ?? true else { continue }
                    typedAt = .now
                    _ = try? await live.request(.typing(room: room))
                case .line(let text) where text.trimmingCharacters(in: .whitespaces) == "/quit":
                    break typing
                case .line(let text) where text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty:
                    continue
                case .line(let text):
                    typedAt = nil
                    do {
                        if let command = ChatCommand(text) {
                            _ = try await live.request(command.frame(in: room))
                        } else {
                            try await live.send(room: room, text: text)
                        }
                    } catch let error as ParleyError {
                        terminal.show("! \(error.code): \(error.message)")
                    }
                case .end:
                    break typing
                }
            }
            await live.stop()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// Prints the room's events until the socket ends for good, and marks each message from others read.
    private static func show(
        _ events: AsyncStream<LiveEvent>, room: String, named title: String, me: String, names: [String: String], on terminal: Terminal,
        read: (Int64) async -> Void
    ) async throws {
        func name(_ user: String) -> String { names[user] ?? user }
        for await event in events {
            switch event {
            case .message(let message) where message.room == room:
                terminal.show(Output.describe(message, sender: name(message.sender)))
                if message.sender != me { await read(message.seq) }
            case .event(.messageEdited(let message)) where message.room == room:
                terminal.show("· \(name(message.sender)) edited #\(message.seq): \(message.text ?? "")")
            case .event(.reactionAdded(let change)) where change.room == room:
                terminal.show("· \(name(change.user)) reacted \(change.emoji) to #\(change.seq)")
            case .event(.mention(let mention)) where mention.room != room:
                terminal.show("· \(name(mention.sender)) mentioned you in \(mention.room): \(mention.snippet)")
            case .event(.replayDone(room, _)):
                // Subscribed, and caught up: from here on the others hear this user type.
                terminal.show("· in \(title)")
            case .event(.typing(room, let user)) where user != me:
                terminal.show("· \(name(user)) is typing")
            case .event(.read(room, let user, let seq)) where user != me:
                terminal.show("· \(name(user)) has read up to #\(seq)")
            case .disconnected(let code) where code == CloseCode.signedOut:
                throw CLIError.sessionExpired
            case .disconnected:
                terminal.show("· disconnected; reconnecting")
            default:
                break
            }
        }
    }
}

/// A line of `parley chat` that acts on a message instead of sending one: `/reply SEQ TEXT`, `/edit SEQ TEXT` or
/// `/react SEQ EMOJI`. Any other line, slashes and all, is a message.
enum ChatCommand: Equatable {
    case reply(Int64, String)
    case edit(Int64, String)
    case react(Int64, String)

    init?(_ line: String) {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count == 3, let seq = Int64(parts[1]), seq > 0 else { return nil }
        let rest = String(parts[2])
        switch parts[0] {
        case "/reply": self = .reply(seq, rest)
        case "/edit": self = .edit(seq, rest)
        case "/react": self = .react(seq, rest.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    func frame(in room: String) -> ClientFrame.Body {
        switch self {
        case .reply(let seq, let text): .send(room: room, clientId: UUID().uuidString.lowercased(), text: text, replyTo: seq)
        case .edit(let seq, let text): .edit(room: room, seq: seq, text: text)
        case .react(let seq, let emoji): .react(room: room, seq: seq, emoji: emoji)
        }
    }
}
