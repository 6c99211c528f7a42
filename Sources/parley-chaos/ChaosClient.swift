import Foundation
import ParleyClient
import ParleyCore
import Synchronization

/// One simulated user: a live connection through the load balancer that sends at a steady rate, and a record of
/// everything it saw: acknowledgements, deliveries in order, reconnects and how long each took to catch up.
final class ChaosClient: Sendable {
    /// A message the server acknowledged: committed, so it must reach every member.
    struct Ack: Sendable, Hashable {
        let room: String
        let seq: Int64
        let clientId: String
    }

    /// The time from losing a node until back on another with every room replayed.
    struct Recovery: Sendable {
        let node: String
        let lostAt: ContinuousClock.Instant
        let caughtUpAt: ContinuousClock.Instant
    }

    private struct State {
        var delivered: [String: [Int64]] = [:]
        var duplicates = 0
        var reordered = 0
        var acks: [Ack] = []
        var sent = 0
        var unacknowledged = 0
        var node: String?
        var conn: String?
        var lost: (node: String, at: ContinuousClock.Instant)?
        var replaying: Set<String> = []
        var recoveries: [Recovery] = []
    }

    let index: Int
    let live: LiveClient
    let rooms: [String]
    let userId: String
    private let state = Mutex(State())

    init(index: Int, live: LiveClient, rooms: [String], userId: String) {
        self.index = index
        self.live = live
        self.rooms = rooms
        self.userId = userId
    }

    var rest: ParleyClient { live.rest }
    var conn: String? { state.withLock { $0.conn } }
    var node: String? { state.withLock { $0.node } }
    var acks: [Ack] { state.withLock { $0.acks } }
    var sent: Int { state.withLock { $0.sent } }
    var unacknowledged: Int { state.withLock { $0.unacknowledged } }
    var duplicates: Int { state.withLock { $0.duplicates } }
    var reordered: Int { state.withLock { $0.reordered } }
    var recoveries: [Recovery] { state.withLock { $0.recoveries } }
    func delivered(_ room: String) -> [Int64] { state.withLock { $0.delivered[room] ?? [] } }

    /// Records the client's events until they end.
    func watch() async {
        for await event in live.events {
            state.withLock { state in
                switch event {
                case .message(let message):
                    let seqs = state.delivered[message.room, default: []]
                    if seqs.contains(message.seq) {
                        state.duplicates += 1
                    } else if let last = seqs.last, message.seq < last {
                        state.reordered += 1
                    }
                    state.delivered[message.room, default: []].append(message.seq)
                case .connected(let conn, let node):
                    state.conn = conn
                    state.node = node
                    state.replaying = Set(rooms)
                case .event(.replayDone(let room, _)):
                    state.replaying.remove(room)
                    if state.replaying.isEmpty, let lost = state.lost {
                        state.recoveries.append(Recovery(node: lost.node, lostAt: lost.at, caughtUpAt: .now))
                        state.lost = nil
                    }
                case .disconnected:
                    if let node = state.node, state.lost == nil { state.lost = (node, .now) }
                    state.conn = nil
                    state.node = nil
                default:
                    break
                }
            }
        }
    }

    /// Sends to its rooms in turn every `interval` (with jitter) until `deadline`. A send cut off by a drop is
    /// retried with the same clientId, so that it is stored once.
    func send(every interval: Duration, until deadline: ContinuousClock.Instant) async {
        var turn = 0
        try? await Task.sleep(for: interval * Double.random(in: 0...1))
        while ContinuousClock.now < deadline {
            let room = rooms[turn % rooms.count]
            turn += 1
            let clientId = UUID()
            state.withLock { $0.sent += 1 }
            do {
                let message = try await live.send(room: room, text: "client \(index) message \(turn)", clientId: clientId, within: .seconds(30))
                state.withLock { $0.acks.append(Ack(room: room, seq: message.seq, clientId: message.clientId)) }
            } catch {
                state.withLock { $0.unacknowledged += 1 }
            }
            try? await Task.sleep(for: interval * Double.random(in: 0.8...1.2))
        }
    }
}
