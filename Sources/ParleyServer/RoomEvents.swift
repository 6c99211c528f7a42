import Logging
import ParleyBus
import ParleyCore
import ParleyStore

/// Announces room and member changes after their commit: `member.*` on the room's channel, `room.*` on the
/// channels of the users the room appears for or vanishes from.
///
/// These are best effort, unlike messages, which go through the outbox: a client that missed one refreshes
/// `GET /api/rooms` after reconnecting, as `docs/protocol.md` says.
struct RoomEvents: Sendable {
    let bus: any Bus
    let store: any Store
    let logger: Logger

    /// The room appears in each user's list, as that user sees it; `by` made them members.
    func roomAdded(_ room: String, for users: [String], by actor: String) async {
        for user in users {
            guard let detail = try? await store.room(room, viewer: user) else { continue }
            await publish(.roomAdded(detail.room, by: actor), to: Channel.user(user))
        }
    }

    /// A group changed (its name, whether it may be recorded): each member's list shows it as it is now.
    func roomUpdated(_ room: String, for users: [String]) async {
        for user in users {
            guard let detail = try? await store.room(room, viewer: user) else { continue }
            await publish(.roomUpdated(detail.room), to: Channel.user(user))
        }
    }

    func roomRemoved(_ room: String, for users: [String]) async {
        for user in users { await publish(.roomRemoved(room: room), to: Channel.user(user)) }
    }

    func memberAdded(_ member: Member, to room: String, by actor: String) async {
        await publish(.memberAdded(room: room, member: member), to: Channel.room(room))
        await roomAdded(room, for: [member.user.id], by: actor)
    }

    func memberRemoved(_ user: String, from room: String) async {
        await publish(.memberRemoved(room: room, user: user), to: Channel.room(room))
        await roomRemoved(room, for: [user])
    }

    private func publish(_ event: Event, to channel: String) async {
        do {
            try await bus.publish(try Frames.encode(event), to: channel)
        } catch {
            logger.warning("could not announce a room change", metadata: ["event": "\(event.kind.rawValue)", "error": "\(error)"])
        }
    }
}
