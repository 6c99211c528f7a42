import Logging
import NIOCore
import ParleyBus
import ParleyStore

/// Publishes what a transaction committed to its outbox, then clears the outbox row.
///
/// A publish that fails leaves the row in place, so that the outbox relay publishes it later: delivery is at
/// least once, and clients drop duplicates by (room, seq).
struct EventPublisher: Sendable {
    let bus: any Bus
    let store: any Store
    let logger: Logger

    func publish(_ entry: OutboxEntry?) async {
        guard let entry else { return }
        do {
            try await bus.publish(ByteBuffer(string: entry.payload), to: entry.channel)
            try await store.markPublished(outbox: entry.id)
        } catch {
            logger.warning("publish failed; the outbox relay will retry", metadata: ["outbox": "\(entry.id)", "error": "\(error)"])
        }
    }
}
