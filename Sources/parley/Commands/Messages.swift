import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// `parley send ROOM [TEXT] [--file PATH...]`: sends a message (standard input when neither TEXT nor a file is
/// given) and prints its seq. Files are announced to the room, then uploaded, each streamed from disk, and then the
/// message goes with them.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a message; without TEXT or --file, standard input is sent.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A room id, @username for your direct room with a contact, or a group's name.") var room: String
    @Argument(help: "The text; standard input when absent and no file is sent.") var text: String?
    @Option(name: .customLong("file"), help: "A file to send with it (repeat for more, up to \(Limits.filesPerMessage)).")
    var files: [String] = []

    func validate() throws {
        if files.count > Limits.filesPerMessage { throw ValidationError("at most \(Limits.filesPerMessage) files go with one message") }
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
                let message = try await signedIn.call { try await $0.send(room: room, text: trimmed, files: ids, clientId: clientId) }
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

/// The usernames of a room's members, by user id, to show who sent what.
enum Members {
    static func usernames(of room: String, _ signedIn: SignedIn) async throws -> [String: String] {
        let detail = try await signedIn.call { try await $0.room(room) }
        return Dictionary(detail.members.map { ($0.user.id, $0.user.username) }, uniquingKeysWith: { first, _ in first })
    }
}
