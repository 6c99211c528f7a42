import Foundation
import ParleyCore
import Testing

@testable import parley_peer

/// The recorder's spool: a part a living worker holds is nobody else's; a dead worker's is found, with its note; a
/// file with no note goes; a part refused for good moves to `failed/`.
@Suite struct SpoolTests {
    static func job(_ part: Int) -> RecordingJob {
        RecordingJob(id: "rec_1", meeting: "m_1", room: "r_1", startedBy: "u_1", state: .recording, part: part, requestedAt: .now)
    }

    @Test func aHeldPartIsNobodyElsesAndALeftOneIsFound() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let spool = Spool(folder: folder)

        let part = try spool.begin(Self.job(2))
        try Data("webm".utf8).write(to: part.media)
        part.note(elapsed: .milliseconds(61_500))
        // A flock belongs to its open file: another look at the spool, as another worker's, finds the part held.
        #expect(spool.orphans().isEmpty)
        part.close()

        // A file whose note never came is a worker that died at once: it goes.
        try Data().write(to: folder.appendingPathComponent("rec_0-part1.webm"))
        let found = spool.orphans()
        #expect(found.map(\.recording) == ["rec_1"] && found.map(\.part) == [2] && found.map(\.recorded) == [.milliseconds(61_500)])
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("rec_0-part1.webm").path))
        // Found, it is held by the finder.
        #expect(spool.orphans().isEmpty)

        spool.fail(found[0])
        found[0].close()
        #expect(spool.orphans().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.failed.path).sorted() == ["rec_1-part2.json", "rec_1-part2.webm"])
    }
}
