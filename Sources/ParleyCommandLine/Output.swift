import ArgumentParser
import Foundation
import ParleyClient
import ParleyCore

/// What the client commands print: lines for people, or with `--json` one JSON object per line.
public struct Output: Sendable {
    public let json: Bool

    public init(json: Bool) {
        self.json = json
    }

    public func line(_ text: String) {
        // Written at once, line by line even into a pipe, so that a reader of `tail --json` sees each message as it
        // arrives; and past stdio, whose flush of every stream would wait for the lock of standard input, which a
        // thread reading commands holds while it waits for a line.
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// One value: its JSON with `--json`, otherwise the words for people.
    public func emit<Value: Encodable>(_ value: Value, _ human: @autoclosure () -> String) {
        line(json ? Self.encode(value) : human())
    }

    public func message(_ message: Message, sender username: String?) {
        emit(MessageLine(message, username: username), Self.describe(message, sender: username))
    }

    /// A message on one line for people: `#seq time sender: ` and what it says, with the seq it answers, its files,
    /// whether it was edited, and its reactions.
    public static func describe(_ message: Message, sender username: String?) -> String {
        let files = (message.files ?? []).map { " [\($0.name), \(size($0.size)): \($0.id)]" }.joined()
        let text = message.call.map(describe) ?? message.text.map { $0.isEmpty && !files.isEmpty ? "" : $0 } ?? "(deleted)"
        let reply = message.replyTo.map { "(reply to #\($0)) " } ?? ""
        let edited = message.editedAt == nil || message.isDeleted ? "" : " (edited)"
        let reactions = (message.reactions ?? []).map { "\($0.emoji) \($0.count)" }.joined(separator: ", ")
        return "#\(message.seq) \(message.sentAt.date.formatted(date: .omitted, time: .shortened)) \(username ?? message.sender): "
            + "\(reply)\(text)\(files)\(edited)\(reactions.isEmpty ? "" : "  [\(reactions)]")"
    }

    /// A call's entry for people, in the caller's words (the sender of the entry is the caller).
    static func describe(_ call: CallEntry) -> String {
        switch call.outcome {
        case .started: "started a call"
        case .answered: "call ended after \(duration(call.durationMs ?? 0))"
        case .missed: "called: missed, nobody answered"
        case .declined: "called: declined"
        case .cancelled: "called: cancelled before anyone answered"
        }
    }

    /// 42 s, 3:07, 1:02:03.
    static func duration(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        guard seconds >= 60 else { return "\(seconds) s" }
        let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }

    /// A byte count for people: 512 B, 3.4 KiB, 25.0 MiB.
    public static func size(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }

    public static func encode<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }

    /// The running executable's name, which starts what it writes to standard error.
    public static let program = URL(fileURLWithPath: CommandLine.arguments.first ?? "parley").lastPathComponent

    public static func error(_ text: String) {
        FileHandle.standardError.write(Data("\(program): \(text)\n".utf8))
    }
}

/// A message as `--json` prints it: the stored message with its sender's username beside the sender's id.
public struct MessageLine: Encodable {
    public let room: String
    public let seq: Int64
    public let sender: String
    public let username: String?
    public let text: String?
    public let sentAt: Timestamp
    public let clientId: String
    public let deletedAt: Timestamp?
    /// `{id, name, size, contentType}` of each file it carries; absent when it has none.
    public let files: [FileRef]?
    public let replyTo: Int64?
    public let quoted: Quote?
    public let editedAt: Timestamp?
    public let reactions: [Reaction]?
    public let call: CallEntry?

    public init(_ message: Message, username: String?) {
        (room, seq, sender, self.username) = (message.room, message.seq, message.sender, username)
        (text, sentAt, clientId, deletedAt, files) = (message.text, message.sentAt, message.clientId, message.deletedAt, message.files)
        (replyTo, quoted, editedAt, reactions, call) = (message.replyTo, message.quoted, message.editedAt, message.reactions, message.call)
    }
}

/// A failure of the client's own, printed as its message; `code` when it matches a server code.
public struct CLIError: Error, CustomStringConvertible {
    public var code: String?
    public var message: String

    public init(_ message: String, code: String? = nil) {
        self.message = message
        self.code = code
    }

    public var description: String { code.map { "\($0): \(message)" } ?? message }

    public static func notLoggedIn(profile: String) -> CLIError {
        CLIError("not logged in (profile \(profile)): run `parley login USERNAME` first", code: "unauthorized")
    }

    public static let sessionExpired = CLIError("your session has expired: run `parley login USERNAME` again", code: "unauthorized")
}

extension AsyncParsableCommand {
    /// Runs the command, and turns a failure into its exit status: 1 with the server's code and message, or the
    /// client's own; 2 for a usage error; what ArgumentParser says for help and the like.
    public static func runAndExit() async -> Never {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let error as ParleyClientError {
            Output.error("\(error.code): \(error.message)")
        } catch let error as ParleyError {
            Output.error("\(error.code): \(error.message)")
        } catch let error as CLIError {
            Output.error(error.description)
        } catch let error as ParleyClientUnreachable {
            Output.error(error.description)
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
        Foundation.exit(1)
    }
}
