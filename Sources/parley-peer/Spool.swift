import Foundation
import Glibc
import ParleyCore
import Synchronization

/// A recorder's spool: each part it records is `RECORDING-partN.webm`, beside `RECORDING-partN.json`, a note of whose
/// part it is and how long it has run. A living worker holds a lock (flock) on each part it writes or posts, so that
/// another worker sharing the folder can tell the parts of a dead worker, and post them. Streamable WebM plays up to
/// wherever its writer stopped. Parts the nodes refused for good go to `failed/`, for whoever runs the worker.
struct Spool: Sendable {
    let folder: URL
    var failed: URL { folder.appendingPathComponent("failed") }

    struct Note: Codable {
        var recording: String
        var part: Int
        var durationMs: Int64
    }

    /// A new part, locked, with its note.
    func begin(_ job: RecordingJob) throws -> SpooledPart {
        let part = SpooledPart(folder: folder, recording: job.id, part: job.part, recorded: .zero)
        FileManager.default.createFile(atPath: part.media.path, contents: nil)
        guard part.lock() else { throw CocoaError(.fileLocking) }
        part.note(elapsed: .zero)
        return part
    }

    /// The parts no living worker holds, each now locked by this one. A file of a part whose note never came (its
    /// worker died at once) goes.
    func orphans() -> [SpooledPart] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasSuffix(".webm") && !names.contains(String(name.dropLast(".webm".count)) + ".json") {
            let media = folder.appendingPathComponent(name)
            if SpooledPart.lock(media.path).map({ Glibc.close($0) }) != nil { try? FileManager.default.removeItem(at: media) }
        }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let url = folder.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: url), let note = try? JSONDecoder().decode(Note.self, from: data) else { return nil }
            let part = SpooledPart(folder: folder, recording: note.recording, part: note.part, recorded: .milliseconds(note.durationMs))
            guard FileManager.default.fileExists(atPath: part.media.path) else {
                try? FileManager.default.removeItem(at: url)
                return nil
            }
            return part.lock() ? part : nil
        }
    }

    func remove(_ part: SpooledPart) {
        try? FileManager.default.removeItem(at: part.media)
        try? FileManager.default.removeItem(at: part.noteURL)
    }

    /// Moves a part that can never be posted out of the way, into `failed/`.
    func fail(_ part: SpooledPart) {
        try? FileManager.default.createDirectory(at: failed, withIntermediateDirectories: true)
        for file in [part.media, part.noteURL] {
            try? FileManager.default.moveItem(at: file, to: failed.appendingPathComponent(file.lastPathComponent))
        }
    }
}

/// One part in the spool, and the lock this worker holds on it.
final class SpooledPart: Sendable {
    let recording: String
    let part: Int
    let media: URL
    let noteURL: URL
    /// How long it ran, as its note says: for a part a dead worker left.
    let recorded: Duration
    private let started = ContinuousClock.now
    private let descriptor = Mutex<Int32>(-1)

    init(folder: URL, recording: String, part: Int, recorded: Duration) {
        (self.recording, self.part, self.recorded) = (recording, part, recorded)
        media = folder.appendingPathComponent("\(recording)-part\(part).webm")
        noteURL = folder.appendingPathComponent("\(recording)-part\(part).json")
    }

    /// How long since this worker began it.
    var elapsed: Duration { started.duration(to: .now) }

    var size: Int64 { (try? FileManager.default.attributesOfItem(atPath: media.path)[.size] as? NSNumber)?.int64Value ?? 0 }

    /// Takes the part's lock; false when a living worker holds it.
    func lock() -> Bool {
        guard let fd = Self.lock(media.path) else { return false }
        descriptor.withLock { $0 = fd }
        return true
    }

    /// A descriptor of the file at `path` holding its lock; nil when another process holds it (or there is no file).
    static func lock(_ path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            return nil
        }
        return fd
    }

    /// Notes how long the part has run, replacing the note whole.
    func note(elapsed: Duration) {
        let note = Spool.Note(recording: recording, part: part, durationMs: elapsed.milliseconds)
        try? JSONEncoder().encode(note).write(to: noteURL, options: .atomic)
    }

    /// Lets the lock go.
    func close() {
        descriptor.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}
