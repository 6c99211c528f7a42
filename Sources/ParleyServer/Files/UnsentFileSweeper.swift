import Logging
import ParleyCore
import ParleyFiles
import ParleyStore
import ServiceLifecycle

/// Removes files that were uploaded but never sent, once `ttl` has passed, bytes and all, and the bytes of files whose
/// room was deleted. Every API node sweeps;
/// two that sweep at once may both remove a file's bytes, which is harmless.
struct UnsentFileSweeper: Service {
    let store: any Store
    let blobs: any BlobStore
    let ttl: Duration
    /// Whether this node sweeps: API nodes do, WS nodes leave it to them.
    let sweeps: Bool
    let logger: Logger

    /// A sweep every so often: a tenth of the time-to-live, between a second and an hour.
    var interval: Duration { min(max(ttl / 10, .seconds(1)), .seconds(3600)) }

    func run() async throws {
        guard sweeps else { return try await gracefulShutdown() }
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully else { return }
            await sweep()
        }
    }

    func sweep() async {
        do {
            let cutoff = Timestamp(milliseconds: Timestamp.now.milliseconds - ttl.components.seconds * 1000)
            while true {
                let files = try await store.sweepUnsentFiles(before: cutoff, limit: 100)
                for file in files {
                    try await blobs.delete(key: file.key)
                    try await blobs.delete(key: file.uploadKey)
                }
                if !files.isEmpty { logger.info("swept unsent files", metadata: ["count": "\(files.count)"]) }
                if files.count < 100 { break }
            }
            // The bytes of files whose room was deleted.
            while true {
                let keys = try await store.takeTrash(limit: 100)
                for key in keys { try await blobs.delete(key: key) }
                if keys.count < 100 { break }
            }
        } catch {
            logger.warning("sweeping unsent files failed", metadata: ["error": "\(error)"])
        }
    }
}
