import Foundation

/// A path for a SQLite file of the test's own in the temporary directory: `name`, a UUID and `.sqlite`.
public func scratchSQLitePath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).sqlite").path
}

/// Removes a SQLite file and the journal files SQLite keeps beside it.
public func removeSQLite(at path: String) {
    for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}
