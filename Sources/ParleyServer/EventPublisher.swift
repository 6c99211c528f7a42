import Logging
import NIOCore
import ParleyBus
import ParleyCore
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

/// What goes with a message besides its own event: the reader's own devices, and the users it mentions.
extension EventPublisher {
    /// A new message that names members with `@username` tells each of them on their own channel (`mention`), so that
    /// all their devices may notify, whichever rooms they subscribe to. Best effort, after the commit: the message
    /// itself is in the store and its event in the outbox.
    func mention(_ sent: Sent) async {
        guard sent.created, let text = sent.message.text, text.contains("@") else { return }
        let message = sent.message
        do {
            for user in try await store.mentioned(Mention.usernames(in: text), in: message.room, by: message.sender) {
                let mention = Mention(room: message.room, seq: message.seq, sender: message.sender, text: text)
                _ = try await bus.publish(try Frames.encode(.mention(mention)), to: Channel.user(user))
            }
        } catch {
            logger.warning("could not announce a mention", metadata: ["room": "\(message.room)", "error": "\(error)"])
        }
    }

    /// A read mark moved: the room's members see how far the reader read (`read`), and the reader's own devices how
    /// much is left unread (`room.read`), whichever rooms they subscribe to.
    func read(room: String, user: String, seq: Int64, unread: Int64) async throws {
        _ = try await bus.publish(try Frames.encode(.read(room: room, user: user, seq: seq)), to: Channel.room(room))
        _ = try await bus.publish(try Frames.encode(.roomRead(room: room, seq: seq, unread: unread)), to: Channel.user(user))
    }
}
