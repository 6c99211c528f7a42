import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine

/// `parley-peer`: an attendee of Parley's meetings on GStreamer's webrtcbin, which rings, answers, sends a test
/// pattern or a file, and records, meeting browsers as an equal. It signs in as `parley login` did.
@main
struct ParleyPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-peer",
        abstract: "A WebRTC peer for Parley's meetings: call, answer or join, from the command line.",
        subcommands: [Call.self, Answer.self, Join.self, RecordWorker.self])

    static func main() async { await runAndExit() }
}

/// What every parley-peer command takes besides its own arguments.
struct PeerOptions: ParsableArguments {
    @OptionGroup var client: ClientOptions
    @Option(help: "What to send as video: test (a moving pattern with a clock), none, or a file, looped.")
    var video = "test"
    @Option(help: "What to send as audio: test (a tone), none, or a file, looped.")
    var audio = "test"
    @Option(help: "A folder to record into: one WebM file per remote attendee, USERNAME-CONN.webm.")
    var record: String?
    @Option(help: "Leave the call after this many seconds.") var duration: Double?
    @Flag(help: "Print each peer's statistics every second.") var stats = false
    @Option(name: .customLong("ice-address"), help: "A host address for the ICE agent to use (repeatable); default: every interface's.")
    var iceAddresses: [String] = []

    var videoSource: MediaSource { MediaSource(argument: video)! }
    var audioSource: MediaSource { MediaSource(argument: audio)! }

    func validate() throws {
        if let duration, !(duration > 0) { throw ValidationError("--duration must be more than 0 seconds") }
        for address in iceAddresses where !Self.isAddress(address) {
            throw ValidationError("--ice-address takes an IPv4 or IPv6 address, not \(address)")
        }
    }

    var settings: PeerSettings {
        PeerSettings(
            iceAddresses: iceAddresses, record: record.map { URL(fileURLWithPath: $0) }, compose: nil,
            duration: duration.map { .milliseconds(Int64($0 * 1000)) }, stats: stats)
    }

    private static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}

struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a room's meeting (or join its open one), ring its members, and attend.")

    @OptionGroup var options: PeerOptions
    @Argument(help: "A room id, @username for the direct room with a contact, or a group's name.") var room: String

    func run() async throws {
        let signedIn = try SignedIn(options.client)
        let name = room
        let room = try await Reachable.retrying(signedIn, options.client.output) { try await RoomName.resolve(name, signedIn) }
        try await Attendance(.call(room: room), signedIn, options).run()
    }
}

struct Answer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait for calls and answer them, one at a time: a bot that takes calls.")

    @OptionGroup var options: PeerOptions
    @Option(help: "Answer only this room's calls.") var room: String?
    @Option(help: "How many calls to answer before exiting (0: no limit).") var count = 1

    func validate() throws {
        if count < 0 { throw ValidationError("--count must be 0 or more") }
    }

    func run() async throws {
        let signedIn = try SignedIn(options.client)
        var room: String?
        if let name = self.room {
            room = try await Reachable.retrying(signedIn, options.client.output) { try await RoomName.resolve(name, signedIn) }
        }
        try await Attendance(.answer(room: room, count: count), signedIn, options).run()
    }
}

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Join a meeting by its id.")

    @OptionGroup var options: PeerOptions
    @Argument(help: "The meeting's id.") var meeting: String

    func run() async throws {
        let signedIn = try SignedIn(options.client)
        try await Attendance(.join(meeting: meeting), signedIn, options).run()
    }
}
