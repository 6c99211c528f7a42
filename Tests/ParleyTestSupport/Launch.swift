import Foundation

/// Starts a child process, one launch at a time in this test process: Foundation's `Process.run()` on Linux has
/// crashed (a bad pointer in its own copying) when many tests launched children at once.
public func launch(_ process: Process) throws {
    try launches.withLock { try process.run() }
}

private let launches = NSLock()
