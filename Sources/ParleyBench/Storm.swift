import Foundation
import NIOCore
import Synchronization

public struct StormResult: Sendable, Codable {
    public let clients: Int
    /// Clients back on another node with every message posted while their node was down, and how long after the
    /// kill each got there, in milliseconds.
    public let caughtUp: Int
    public let p50: Double
    public let p99: Double
    public let max: Double
    /// How long after the kill the clients were greeted by the other node, in milliseconds: the reconnect alone,
    /// before the resubscription and the replay.
    public let backP50: Double
    public let backMax: Double
    /// `presence` events the clients received in the `presenceWindow` after the kill. Users who come back before
    /// the dead node is claimed are no news, so this stays 0 when the survivors record the storm in time.
    public let presenceEvents: Int
}

/// A reconnect storm: `clients` connections on WS node 1, one user each, subscribed to rooms of 250. Once that
/// has settled (the rooms have heard every user come online), node 1 is killed with SIGKILL; every room then gets a
/// message over REST while its members are away. Each client reconnects to the other WS node at once (and again
/// after a jittered pause while that fails), resubscribes with `since`, and counts as caught up when it holds the
/// message posted after the kill. The time is from the kill to that moment.
struct Storm {
    static let perProcess = 5000
    static let roomSize = 250
    /// How long after the kill the clients count `presence` events: past the claim of the dead node (about 10 s).
    static let presenceWindow = Duration.seconds(15)
    /// How long the clients must have heard no `presence` event before the kill.
    static let settled = Duration.seconds(2)

    let cluster: BenchCluster
    let clients: Int
    let executable: String

    func run() async throws -> StormResult {
        let ws = cluster.nodes(role: "ws")
        guard ws.count >= 2 else { throw BenchError("storm needs two WS nodes (scripts/cluster up --ws 2)") }
        let users = try await BenchUsers.signUp(clients, url: cluster.url, label: "storm")
        var rooms: [String] = []
        let setup = Progress("rooms of \(Self.roomSize)", total: (clients + Self.roomSize - 1) / Self.roomSize)
        for owner in stride(from: 0, to: clients, by: Self.roomSize) {
            let members = Array(owner + 1..<min(clients, owner + Self.roomSize))
            rooms.append(try await users.room(owner: owner, members: members, name: "Storm \(owner / Self.roomSize)"))
            setup.advance()
        }
        setup.finish()
        let tokens = try writeLines(users.tokens, prefix: "tokens")
        let roomOf = try writeLines((0..<clients).map { rooms[$0 / Self.roomSize] }, prefix: "rooms")
        defer { for path in [tokens, roomOf] { try? FileManager.default.removeItem(atPath: path) } }

        say("  \(clients) clients on \(ws[0].name), in \(rooms.count) rooms")
        let children = try ChildGenerator.spread(clients, perProcess: Self.perProcess, executable: executable) { from, count in
            [
                "storm-client", "--port", "\(ws[0].port)", "--fallback", "\(ws[1].port)", "--tokens", tokens, "--rooms", roomOf,
                "--from", "\(from)", "--count", "\(count)",
            ]
        }
        defer { children.forEach { $0.stop() } }
        for child in children { _ = try await child.line(startingWith: "ready") }

        say("  killing \(ws[0].name) (pid \(ws[0].pid))")
        let killed = monotonicNanos()
        kill(ws[0].pid, SIGKILL)
        children.forEach { $0.send("killed \(killed)") }
        for (index, room) in rooms.enumerated() {
            let message = try await users.clients[index * Self.roomSize].send(room: room, text: "posted while the node was down")
            children.forEach { $0.send("target \(room) \(message.seq)") }
        }
        children.forEach { $0.send("targets done") }
        say(
            String(
                format: "  posted a message in each of the %d rooms, the last %.0f ms after the kill", rooms.count,
                Double(monotonicNanos() - killed) / 1e6))

        let (back, latencies) = (Latencies(), Latencies())
        var (caughtUp, presenceEvents) = (0, 0)
        for child in children {
            for (prefix, times) in [("back", back), ("result", latencies)] {
                let line = try await child.line(startingWith: prefix)
                for field in line.split(separator: " ").dropFirst() {
                    guard let nanos = UInt64(field) else { continue }
                    times.record(since: killed, at: killed + nanos)
                    if prefix == "result" { caughtUp += 1 }
                }
            }
        }
        say("  counting presence events until \(Self.presenceWindow.components.seconds) s after the kill")
        for child in children {
            presenceEvents += Int(try await child.line(startingWith: "presence").split(separator: " ").last ?? "") ?? 0
        }
        let result = StormResult(
            clients: clients, caughtUp: caughtUp, p50: latencies.milliseconds(at: 50), p99: latencies.milliseconds(at: 99),
            max: latencies.maxMilliseconds, backP50: back.milliseconds(at: 50), backMax: back.maxMilliseconds, presenceEvents: presenceEvents)
        say(
            String(
                format: "    %d of %d caught up; p50 %.0f ms, p99 %.0f ms, all %.0f ms after the kill (greeted: p50 %.0f ms, all %.0f ms);"
                    + " %d presence events", caughtUp, clients, result.p50, result.p99, result.max, result.backP50, result.backMax,
                presenceEvents))
        return result
    }
}
