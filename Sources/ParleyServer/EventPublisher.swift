import Logging
import NIOCore
import ParleyBus
import ParleyStore

/// Publishes what a transaction committed to its outbox, then clears the outbox row.
///
/// A publish that fails leaves the row in place, so that the outbox relay publishes it later: delivery is at
/// least once, and clients drop duplicates by (room, seq). Nobody waits for Redis's reply: the row is cleared when
/// it comes, and the caller (a socket's next frame, an HTTP response) goes on at once. Publishes keep their order.
struct EventPublisher: Sendable {
    let bus: any Bus
    let store: any Store
    let logger: Logger

    func publish(_ entry: OutboxEntry?) {
        guard let entry else { return }
        bus.publish(ByteBuffer(string: entry.payload), to: entry.channel) { [store, logger] result in
            switch result {
            case .success:
                store.markPublished(outbox: entry.id)
            case .failure(let error):
                logger.warning("publish failed; the outbox relay will retry", metadata: ["outbox": "\(entry.id)", "error": "\(error)"])
            }
        }
    }
}
