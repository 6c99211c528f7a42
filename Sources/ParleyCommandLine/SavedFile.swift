import Foundation
import NIOCore

/// A downloaded file's place on disk. The bytes go to a hidden temporary file beside it, which becomes the file only
/// once whole: an interrupted download leaves nothing behind, and never half of a file.
public struct SavedFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Where a download goes: `output` when it names a file, the file's own `name` inside `output` when that is a
    /// folder, and `name` in the current folder without `output`.
    public static func destination(_ output: String?, name: String) -> SavedFile {
        guard let output else { return SavedFile(path: name) }
        var isFolder: ObjCBool = false
        if output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) && isFolder.boolValue) {
            return SavedFile(path: URL(fileURLWithPath: output).appendingPathComponent(name).path)
        }
        return SavedFile(path: output)
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Refuses a file that is there already, unless it may be replaced.
    public func checkFree(replacing: Bool) throws {
        if exists && !replacing { throw CLIError("\(path) exists: use --force to replace it", code: "conflict") }
    }

    /// Writes the chunks, `expected` bytes when that is known, then puts the file in place: replacing what is there
    /// with `replacing`, else refusing to (checked when the file is put in place, so that a file that appeared
    /// meanwhile is not lost either). Returns the byte count.
    public func write<Chunks: AsyncSequence>(_ chunks: Chunks, expected: Int64?, replacing: Bool) async throws -> Int64
    where Chunks.Element == ByteBuffer {
        let target = URL(fileURLWithPath: path)
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).part")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o644]),
            let file = FileHandle(forWritingAtPath: temporary.path)
        else { throw CLIError("cannot write in \(target.deletingLastPathComponent().path)", code: "forbidden") }
        defer { try? FileManager.default.removeItem(at: temporary) }
        var written: Int64 = 0
        do {
            for try await chunk in chunks {
                written += Int64(chunk.readableBytes)
                try file.write(contentsOf: Data(chunk.readableBytesView))
            }
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        if let expected, written != expected {
            throw CLIError("the download ended after \(written) of its \(expected) bytes", code: "unavailable")
        }
        if replacing {
            guard rename(temporary.path, target.path) == 0 else { throw Self.failure("cannot write \(path)") }
        } else if link(temporary.path, target.path) != 0 {
            // link(2) puts the file in place only if nothing is there, at once.
            if errno == EEXIST { try checkFree(replacing: false) }
            throw Self.failure("cannot write \(path)")
        }
        return written
    }

    private static func failure(_ message: String) -> CLIError {
        CLIError("\(message): \(String(cString: strerror(errno)))", code: "forbidden")
    }
}

/// A file name from a server made safe to write to: its last path component, with no control or bidi characters,
/// no leading dots (no hidden files, no `..`), and at most 200 bytes; the fallback when nothing is left.
public enum SafeFileName {
    public static func make(_ raw: String?, fallback: String) -> String {
        let last = raw?.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let scalars = last.unicodeScalars.filter { scalar in
            let category = scalar.properties.generalCategory
            return !(category == .control || category == .format || category == .lineSeparator || category == .paragraphSeparator)
        }
        var name = String(String.UnicodeScalarView(scalars)).trimmingCharacters(in: .whitespaces)
        while name.hasPrefix(".") { name.removeFirst() }
        while name.utf8.count > 200 { name.removeLast() }
        name = name.trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? fallback : name
    }
}
