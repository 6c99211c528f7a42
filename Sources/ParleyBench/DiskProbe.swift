import Foundation

/// How long the disk under Postgres takes to make a write durable: `fdatasync` of one 8 KiB page, as a WAL flush
/// does, at a steady pace. Every acknowledged send waits for one such flush (shared by a group commit), so its
/// tail bounds the durable tail whatever the server does.
struct DiskProbe {
    let folder: String

    func run(count: Int = 1000, every interval: Duration = .milliseconds(4)) async throws -> Latencies {
        let path = "\(folder)/fsync-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw BenchError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer {
            close(fd)
            unlink(path)
        }
        let page = [UInt8](repeating: 0x70, count: 8192)
        let latencies = Latencies()
        for _ in 0..<count {
            guard page.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == page.count else {
                throw BenchError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            let started = monotonicNanos()
            _ = fdatasync(fd)
            latencies.record(since: started)
            try await Task.sleep(for: interval)
        }
        return latencies
    }
}
