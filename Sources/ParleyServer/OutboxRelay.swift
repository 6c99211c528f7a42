import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore
import ServiceLifecycle

/// Publishes what a node committed and never published, because it died or the bus was away in between.
/// It runs on every node; the store hands each row to one of them.
struct OutboxRelay: Service {
    /// Rows younger than this are left to the node that wrote them, which publishes right after commit.
    static let grace: Int64 = 2
    static let interval = Duration.seconds(1)

    let store: any Store
    let bus: any Bus
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let published = try await relayOnce()
                    if published > 0 { logger.notice("relayed unpublished events", metadata: ["count": "\(published)"]) }
                } catch {
                    logger.debug("outbox relay round failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: Self.interval)
            }
        }
    }

    func relayOnce() async throws -> Int {
        try await store.relayOutbox(olderThan: Timestamp.now.adding(seconds: -Self.grace), limit: 500) { entry in
            try await bus.publish(ByteBuffer(string: entry.payload), to: entry.channel)
        }
    }
}
