import Logging
import ParleyBus
import ParleyCore
import ParleyStore
import ServiceLifecycle

/// Ends what nobody will end: rings that ran out become missed, the attendees of dead nodes leave, so that no
/// ghost meeting outlives a crash, and recordings that no recorder will finish end. Every node runs one; the store's
/// row locks let only one of them act on each meeting.
///
/// A node counts as dead once its heartbeat lapsed on two sweeps in a row, so that a node which has just
/// started, and holds attendees before its first beat lands, is never taken for dead.
struct MeetingReaper: Service {
    static let every = Duration.seconds(1)
    static let sweepNodesEvery = 2

    let nodeId: String
    let meetings: Meetings
    let recordings: Recordings
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var suspects: Set<String> = []
            var tick = 0
            while !Task.isCancelled {
                do {
                    for change in try await meetings.store.expireRings(now: .now) { await meetings.announce(change) }
                    if tick % Self.sweepNodesEvery == 0 { suspects = try await sweepNodes(suspects) }
                    try await recordings.expire()
                } catch {
                    logger.debug("meeting sweep failed", metadata: ["error": "\(error)"])
                }
                tick += 1
                try await Task.sleep(for: Self.every)
            }
        }
    }

    /// Removes the attendees of nodes found dead on this sweep and the one before; returns this sweep's dead.
    private func sweepNodes(_ suspects: Set<String>) async throws -> Set<String> {
        var dead: Set<String> = []
        for node in try await meetings.store.attendeeNodes() where node != nodeId {
            guard try await !meetings.bus.isAlive(node: node) else { continue }
            dead.insert(node)
            guard suspects.contains(node) else { continue }
            let changes = try await meetings.store.removeAttendees(node: node)
            logger.notice("a dead node's attendees left their meetings", metadata: ["dead": "\(node)", "meetings": "\(changes.count)"])
            for change in changes { await meetings.announce(change) }
        }
        return dead
    }
}
