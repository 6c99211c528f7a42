import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// Files on their way into a room with a message.
enum Attachments {
    /// Announces every file, then uploads each: a file over the server's limit is refused before any byte is sent.
    /// Returns the files' ids, for the message.
    static func upload(_ files: [LocalFile], to room: String, _ signedIn: SignedIn) async throws -> [String] {
        var announced: [AnnouncedFile] = []
        for file in files {
            announced.append(
                try await signedIn.call { try await $0.announceFile(room: room, name: file.name, size: file.size, contentType: file.contentType) })
        }
        for (file, target) in zip(files, announced) {
            do {
                try await signedIn.client.upload(target.upload, size: file.size, from: file.path)
            } catch let error as ParleyClientError {
                throw CLIError("\(file.path) was not uploaded: \(error.message)", code: error.code.rawValue)
            }
        }
        return announced.map(\.file.id)
    }
}

/// `parley download FILE_ID [-o PATH] [--force]`: saves a file sent in one of your rooms and prints where.
struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Save a file sent in one of your rooms, and print its path.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The file's id (f_..., as history, tail and send --json show it).") var file: String
    @Option(
        name: [.short, .customLong("output")],
        help: "A path, a folder to save it in under its own name, or - for standard output (default: its own name, here).")
    var output: String?
    @Flag(help: "Replace a file that is there already.") var force = false

    /// What `--json` prints.
    struct Saved: Encodable {
        let id: String
        let name: String
        let path: String
        let size: Int64
        let contentType: String?
    }

    func run() async throws {
        // A path named outright is checked before anything is fetched; one named by the server, once it is.
        if let output, output != "-", SavedFile.destination(output, name: file).path == output {
            try SavedFile(path: output).checkFree(replacing: force)
        }
        let signedIn = try SignedIn(options)
        let link = try await signedIn.call { [file] in try await $0.fileLink(file) }
        let saved = try await signedIn.client.download(from: link) { [file, output, force] download in
            let name = SafeFileName.make(download.filename, fallback: file)
            if output == "-" {
                var size: Int64 = 0
                for try await chunk in download.body {
                    size += Int64(chunk.readableBytes)
                    try FileHandle.standardOutput.write(contentsOf: Data(chunk.readableBytesView))
                }
                return Saved(id: file, name: name, path: "-", size: size, contentType: download.contentType)
            }
            let target = SavedFile.destination(output, name: name)
            try target.checkFree(replacing: force)
            let size = try await target.write(download.body, expected: download.size, replacing: force)
            return Saved(id: file, name: name, path: target.path, size: size, contentType: download.contentType)
        }
        if saved.path != "-" { options.output.emit(saved, saved.path) }
    }
}
