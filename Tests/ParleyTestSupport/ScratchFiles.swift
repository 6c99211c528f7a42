import Foundation

/// A path of the test's own in the temporary directory: `name` and a UUID.
private func scratchURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
}

/// A path for a SQLite file of the test's own in the temporary directory: `name`, a UUID and `.sqlite`.
public func scratchSQLitePath(_ name: String) -> String { scratchURL(name).path + ".sqlite" }

/// Removes a SQLite file and the journal files SQLite keeps beside it.
public func removeSQLite(at path: String) {
    for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}

/// Runs `body` with a new folder of the test's own in the temporary directory (`name` and a UUID), and removes the
/// folder afterwards, also when `body` throws.
public func withScratchDirectory<R>(_ name: String, _ body: (URL) async throws -> R) async throws -> R {
    let directory = scratchURL(name)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}
