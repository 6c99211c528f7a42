import Foundation
import Logging
import ParleyBus
import ParleyClient
import ParleyCore

/// What the chaos test checks after the faults, and the figures it reports.
struct Findings {
    var sent = 0
    var acknowledged = 0
    var delivered = 0
    var lost = 0
    var duplicated = 0
    var reordered = 0
    var problems: [String] = []
    var presence = "not checked"
    var meeting = "not checked"
    var recoveries: [Double] = []

    var passed: Bool { problems.isEmpty && lost == 0 && duplicated == 0 && reordered == 0 }

    /// Every acknowledged message is in the store once, with its seq, and every member got each message of its
    /// rooms once, in seq order.
    mutating func checkMessages(_ population: Population) async throws {
        let clients = population.clients
        sent = clients.reduce(0) { $0 + $1.sent }
        acknowledged = clients.reduce(0) { $0 + $1.acks.count }
        duplicated = clients.reduce(0) { $0 + $1.duplicates }
        reordered = clients.reduce(0) { $0 + $1.reordered }

        // The load is over and every send has returned, so the store holds its final messages.
        var stored: [String: [Message]] = [:]
        for (members, room) in population.roomIds {
            stored[room] = try await Self.history(of: room, reader: clients[members[0]].rest)
        }
        try await waitUntil("every client holds every message of its rooms", within: 90) {
            clients.allSatisfy { client in client.rooms.allSatisfy { room in client.delivered(room).count >= stored[room]!.count } }
        }
        for (room, messages) in stored {
            if messages.map(\.seq) != (0..<Int64(messages.count)).map({ $0 + 1 }) {
                problems.append("room \(room): its seqs are not 1…\(messages.count)")
            }
            let keys = messages.map { "\($0.sender)/\($0.clientId)" }
            if Set(keys).count != keys.count {
                duplicated += keys.count - Set(keys).count
                problems.append("room \(room): a clientId is stored twice")
            }
        }
        for client in clients {
            for ack in client.acks where stored[ack.room]?.first(where: { $0.seq == ack.seq })?.clientId != ack.clientId {
                lost += 1
                problems.append("acknowledged \(ack.room)#\(ack.seq) is not in the store as sent")
            }
            for room in client.rooms {
                let seqs = client.delivered(room)
                delivered += seqs.count
                let missing = Set(stored[room]!.map(\.seq)).subtracting(seqs)
                lost += missing.count
                if !missing.isEmpty { problems.append("client \(client.index) misses \(missing.count) messages of \(room)") }
            }
        }
    }

    private static func history(of room: String, reader: ParleyClient) async throws -> [Message] {
        var messages: [Message] = []
        while true {
            let page = try await reader.messages(room: room, after: messages.last?.seq ?? 0, limit: 200)
            messages += page
            if page.count < 200 { return messages }
        }
    }

    /// The meeting holds only live connections, and once everyone leaves, nothing of it remains.
    mutating func checkMeeting(_ driver: MeetingDriver, _ population: Population) async throws {
        guard let id = driver.meeting else {
            meeting = "no meeting was started"
            return
        }
        let reader = driver.members[0].rest
        do {
            try await waitUntil("the meeting holds only live connections", within: 20) {
                let live = Set(population.clients.compactMap(\.conn))
                let attendees = try await reader.meeting(id).attendees.map(\.conn)
                return attendees.allSatisfy(live.contains)
            }
            let before = try await reader.meeting(id).attendees.count
            await driver.leaveAll()
            try await waitUntil("no meeting or attendee remains", within: 20) {
                let state = try await reader.meeting(id)
                return !state.state.isOpen && state.attendees.isEmpty
            }
            meeting = "\(driver.joinsAndLeaves) joins and leaves; \(before) attended at the end, all live; none left after they left"
        } catch {
            problems.append("meeting: \(error)")
            meeting = "ghost: \(error)"
        }
    }

    /// Everyone connected is online; ten clients that stop are offline within 15 s, and the rest stay online.
    mutating func checkPresence(_ population: Population, bus: RedisBus?) async throws {
        guard let bus else {
            presence = "not checked: no Redis"
            return
        }
        let clients = population.clients
        let leaving = Set(clients.suffix(10).map(\.index))
        let outcome: String
        do {
            outcome = try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    try await bus.run()
                    return ""
                }
                defer { group.cancelAll() }
                // The checker's own Redis connection may still be opening: a failed round counts as not yet.
                try await waitUntil("every connected user is online", within: 20) {
                    for client in clients where (try? await bus.isOnline(user: client.userId)) != true { return false }
                    return true
                }
                for client in clients where leaving.contains(client.index) { await client.live.stop() }
                let stopped = ContinuousClock.now
                do {
                    try await waitUntil("presence matches the live connections", within: 15) {
                        for client in clients where (try? await bus.isOnline(user: client.userId)) != !leaving.contains(client.index) {
                            return false
                        }
                        return true
                    }
                } catch {
                    var wrong: [String] = []
                    for client in clients where (try? await bus.isOnline(user: client.userId)) != !leaving.contains(client.index) {
                        wrong.append(
                            "client \(client.index) (\(leaving.contains(client.index) ? "stopped" : "connected"), on \(client.node ?? "no node"))")
                    }
                    throw ChaosError("\(error); wrong: \(wrong.joined(separator: ", "))")
                }
                let took = stopped.duration(to: .now).inSeconds
                return String(format: "converged: all %d online, then 10 stopped and shown offline after %.2f s", clients.count, took)
            }
            presence = outcome
        } catch {
            problems.append("presence: \(error)")
            presence = "did not converge: \(error)"
        }
    }

    func summary(clients: Int, faults: Faults) -> Summary {
        Summary(findings: self, clients: clients, faults: faults)
    }
}

/// The figures, as a table, a JSON line, and Markdown for docs/chaos.md.
struct Summary {
    let findings: Findings
    let clients: Int
    let faults: Faults

    /// Nothing was lost, and every fault was injected as planned: a fault that failed proves nothing.
    var passed: Bool { findings.passed && faults.failures.isEmpty }

    private func percentile(_ p: Double) -> Double {
        let sorted = findings.recoveries.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
    }

    private var figures: [(String, String)] {
        [
            ("clients", "\(clients)"), ("sent", "\(findings.sent)"), ("acknowledged", "\(findings.acknowledged)"),
            ("delivered", "\(findings.delivered)"), ("lost", "\(findings.lost)"), ("duplicated", "\(findings.duplicated)"),
            ("reordered", "\(findings.reordered)"),
            ("faults", faults.summary),
            (
                "back and caught up after a WS kill",
                String(
                    format: "p50 %.2f s, p99 %.2f s, max %.2f s (%d clients)", percentile(50), percentile(99), findings.recoveries.max() ?? .nan,
                    findings.recoveries.count)
            ),
            ("presence", findings.presence), ("meeting", findings.meeting),
            ("result", passed ? "passed" : "FAILED: " + (findings.problems + faults.failures).prefix(5).joined(separator: "; ")),
        ]
    }

    var table: String { figures.map { "\($0.0.padding(toLength: 36, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n") }

    var json: String {
        let object: [String: Any] = [
            "clients": clients, "sent": findings.sent, "acknowledged": findings.acknowledged, "delivered": findings.delivered,
            "lost": findings.lost, "duplicated": findings.duplicated, "reordered": findings.reordered,
            "wsKills": faults.wsKills.count, "apiKills": faults.apiKills, "redisFaults": faults.redisRestarts, "reshards": faults.reshards,
            "recoveryP50": percentile(50), "recoveryP99": percentile(99), "recoveryMax": findings.recoveries.max() ?? 0,
            "passed": passed,
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object.mapValues { ($0 as? Double)?.isNaN == true ? 0 : $0 }, options: [.sortedKeys]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    func markdown(command: String, started: Date, seconds: Int) -> String {
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let rows = figures.map { "| \($0.0) | \($0.1) |" }.joined(separator: "\n")
        let redisFaults =
            faults.redisCluster
            ? "a Redis master was killed mid-traffic (its replica took over) and started again to rejoin as a replica, "
                + "and later 1000 slots were moved from one master to another mid-traffic"
            : "Redis was killed and restarted once"
        let again = "scripts/chaos --minutes 10" + (faults.redisCluster ? " --redis-cluster" : "")
        return """
            # Chaos test: the last long run\(faults.redisCluster ? " on a Redis Cluster" : "")

            Written by `parley-chaos` at the end of its run; `\(again)` runs it again.

            - Command: `\(command)`
            - Started: \(ISO8601DateFormatter().string(from: started)), for \(seconds) s of load and faults
            - Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; every
              process (Postgres, \(faults.redisCluster ? "a Redis Cluster of 3 masters and 3 replicas" : "Redis"), HAProxy, the nodes as debug builds, and the load) on this one machine

            | figure | value |
            |---|---|
            \(rows)

            What it did: \(clients) clients in rooms of 2, 5, 10 and about a third of everyone sent at a steady rate through
            HAProxy; a random WS node was killed with SIGKILL every few seconds and restarted two seconds later; one API
            node was killed and restarted; \(redisFaults); members of one room joined and left its meeting throughout. "Back and caught up" runs from the kill until a client of the killed node was connected
            to another node and had every room replayed.

            """
    }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
