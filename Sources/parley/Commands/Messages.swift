import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// `parley send ROOM [TEXT] [--file PATH...] [--reply-to SEQ]`: sends a message (standard input when neither TEXT nor a file is
/// given) and prints its seq. Files are announced to the room, then uploaded, each streamed from disk, and then the
/// message goes with them.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a message; without TEXT or --file, standard input is sent.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A room id, @username for your direct room with a contact, or a group's name.") var room: String
    @Argument(help: "The text; standard input when absent and no file is sent.") var text: String?
    @Option(name: .customLong("file"), help: "A file to send with it (repeat for more, up to \(Limits.filesPerMessage)).")
    var files: [String] = []
    @Option(help: "The seq of the message this one answers.") var replyTo: Int64?

    func validate() throws {
        if files.count > Limits.filesPerMessage { throw ValidationError("at most \(Limits.filesPerMessage) files go with one message") }
        if let replyTo, replyTo < 1 { throw ValidationError("--reply-to must be at least 1") }
    }

    func run() async throws {
        let local = try files.map(LocalFile.init(path:))
        let body = text ?? (local.isEmpty ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : "")
        let trimmed = body.hasSuffix("\n") ? String(body.dropLast()) : body
        guard !trimmed.isEmpty || !local.isEmpty else { throw ValidationError("nothing to send: the text is empty") }
        let signedIn = try SignedIn(options)
        let room = try await RoomName.resolve(room, signedIn)
        let ids = try await Attachments.upload(local, to: room, signedIn)
        // One clientId for every try: if an answer is lost on the way back, the retry returns the stored message.
        let clientId = UUID()
        var attempt = 0
        while true {
            attempt += 1
            do {
                let message = try await signedIn.call { [replyTo] in
                    try await $0.send(room: room, text: trimmed, files: ids, replyTo: replyTo, clientId: clientId)
                }
                options.output.emit(MessageLine(message, username: await signedIn.user.username), "sent #\(message.seq)")
                return
            } catch let error where attempt < 3 && !(error is ParleyClientError) && !(error is CLIError) {
                try await Task.sleep(for: .milliseconds(500 * attempt))
            }
        }
    }
}

/// `parley history ROOM [--before SEQ] [--limit N]`: a page of a room's messages, oldest first.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a room's messages, oldest first.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A room id, @username for your direct room with a contact, or a group's name.") var room: String
    @Option(help: "Only messages before this seq (the next page back).") var before: Int64?
    @Option(help: "At most this many messages.") var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let before, before < 1 { throw ValidationError("--before must be at least 1") }
    }

    func run() async throws {
        let signedIn = try SignedIn(options)
        let room = try await RoomName.resolve(room, signedIn)
        let names = try await Members.usernames(of: room, signedIn)
        let messages = try await signedIn.call { [before, limit] in try await $0.messages(room: room, before: before, limit: limit) }
        for message in messages.sorted(by: { $0.seq < $1.seq }) { options.output.message(message, sender: names[message.sender]) }
    }
}

/// `parley edit ROOM SEQ TEXT`: changes the text of one of your messages.
struct Edit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change the text of one of your messages.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A room id, @username for your direct room with a contact, or a group's name.") var room: String
    @Argument(help: "The message's seq.") var seq: Int64
    @Argument(help: "Its new text.") var text: String

    func run() async throws {
        let signedIn = try SignedIn(options)
        let room = try await RoomName.resolve(room, signedIn)
        let message = try await signedIn.call { [seq, text] in try await $0.editMessage(room: room, seq: seq, text: text) }
        options.output.emit(MessageLine(message, username: await signedIn.user.username), "edited #\(message.seq)")
    }
}

/// `parley react ROOM SEQ EMOJI [--remove]`: adds your emoji to a message, or takes it back.
struct React: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add your emoji to a message, or take it back.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A room id, @username for your direct room with a contact, or a group's name.") var room: String
    @Argument(help: "The message's seq.") var seq: Int64
    @Argument(help: "One emoji.") var emoji: String
    @Flag(help: "Take the emoji back.") var remove = false

    func run() async throws {
        let signedIn = try SignedIn(options)
        let room = try await RoomName.resolve(room, signedIn)
        try await signedIn.call { [seq, emoji, remove] in try await $0.react(room: room, seq: seq, emoji: emoji, on: !remove) }
        options.output.emit(["room": room, "seq": "\(seq)", "emoji": emoji], "\(remove ? "took back" : "reacted") \(emoji) on #\(seq)")
    }
}

/// `parley search WORDS [--room ROOM] [--limit N] [--offset N]`: the messages of your rooms that hold every word.
struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Search the messages of your rooms, best match first.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The words to find; each matches the start of a word.") var query: String
    @Option(help: "Only this room: an id, @username, or a group's name.") var room: String?
    @Option(help: "At most this many results.") var limit: Int?
    @Option(help: "Skip this many results (the next page).") var offset: Int?

    func run() async throws {
        let signedIn = try SignedIn(options)
        let rooms = try await signedIn.call { try await $0.rooms() }
        let only = if let room { try await RoomName.resolve(room, signedIn) } else { String?.none }
        let page = try await signedIn.call { [query, limit, offset] in try await $0.search(query, room: only, limit: limit, offset: offset) }
        let names = Dictionary(rooms.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        // Who sent each: you, or the contacts of your direct rooms; a group's other members show by id.
        let me = await signedIn.user
        let people = Dictionary(rooms.compactMap(\.peer).map { ($0.id, $0.username) } + [(me.id, me.username)], uniquingKeysWith: { first, _ in first })
        for message in page.messages {
            if !options.output.json { options.output.line("in \(names[message.room] ?? message.room):") }
            options.output.message(message, sender: people[message.sender])
        }
        if let next = page.next, !options.output.json { options.output.line("more: --offset \(next)") }
    }
}

/// The usernames of a room's members, by user id, to show who sent what.
enum Members {
    static func usernames(of room: String, _ signedIn: SignedIn) async throws -> [String: String] {
        let detail = try await signedIn.call { try await $0.room(room) }
        return Dictionary(detail.members.map { ($0.user.id, $0.user.username) }, uniquingKeysWith: { first, _ in first })
    }
}
