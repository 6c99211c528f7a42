import Foundation

/// A scenario's figures: a table for the terminal, a JSON line, and a section of BENCHMARKS.md.
public struct Report: Sendable {
    public let scenario: String
    public let table: String
    public let markdown: String
    public let json: String

    /// Rewrites this scenario's section of `path` (between `<!-- bench:NAME -->` markers), keeping the others.
    public func write(to path: String, command: String) throws {
        let begin = "<!-- bench:\(scenario) -->"
        let end = "<!-- /bench:\(scenario) -->"
        let commit = Self.commit.map { ", commit \($0)" } ?? ""
        let section = """
            \(begin)
            ## \(scenario)

            Command: `\(command)`, \(ISO8601DateFormatter().string(from: Date()))\(commit).
            Machine: \(Machine.description); Parley built with `swift build -c release`.

            \(markdown)
            \(end)
            """
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# Benchmarks\n"
        if let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex) {
            text.replaceSubrange(start.lowerBound..<stop.upperBound, with: section)
        } else {
            text += (text.hasSuffix("\n") ? "\n" : "\n\n") + section + "\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The checked-out commit the figures were measured at (`git rev-parse --short HEAD` in the working directory,
    /// which `scripts/bench` sets to the repository); nil outside a checkout. Foundation reaps the child itself.
    static var commit: String? {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "--short", "HEAD"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    static func json(_ scenario: String, _ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return "{\"scenario\":\"\(scenario)\",\"results\":\(body)}"
    }
}

private func ms(_ value: Double) -> String { String(format: "%.2f ms", value) }
private func count(_ value: Double) -> String { String(format: "%.0f", value) }
private func micros(_ value: Double) -> String { String(format: "%.1f µs", value) }

extension Report {
    public static func fanout(_ parley: [FanoutResult], peer: [FanoutResult], bare: [FanoutResult], senders: Int) -> Report {
        var rows = [
            "| room size | system | deliveries/s | per server CPU-second | server CPU per delivery | p50 | p99 | max |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for result in (parley + peer + bare).sorted(by: { $0.roomSize < $1.roomSize }) {
            guard let best = result.best else {
                rows.append("| \(result.roomSize) | \(result.mode) | no rate held p99 under \(Int(Fanout.p99Limit)) ms | | | | | |")
                continue
            }
            rows.append(
                "| \(result.roomSize) | \(result.mode) | \(count(best.perSecond)) | \(count(best.perCPUSecond)) | "
                    + micros(best.cpuMicros) + " | \(ms(best.p50)) | \(ms(best.p99)) | \(ms(best.max)) |")
        }
        var ratios: [String] = []
        for result in parley {
            for (other, name) in [(peer, "the \(SocketIOPeer.name) peer"), (bare, "the bare floor")] {
                let mine = result.best?.perCPUSecond ?? 0
                guard let theirs = other.first(where: { $0.roomSize == result.roomSize }) else { continue }
                let text =
                    if let best = theirs.best, best.perCPUSecond > 0, mine > 0 {
                        String(format: "%.2f×", mine / best.perCPUSecond)
                    } else {
                        "not comparable (\(mine > 0 ? name : "Parley") held no rate)"
                    }
                ratios.append("room of \(result.roomSize): Parley per server CPU-second against \(name): \(text)")
            }
        }
        let markdown = """
            The fastest rate at which p99 stayed under \(Int(Fanout.p99Limit)) ms, each room size on its own; after an unrecorded \
            second at the first rate, the rate rises by half each step until two steps in a row miss, and each miss after \
            a step that held is followed by one halfway between them (×1.22). `parley`: \(senders) sending connections (one user's, \
            each acknowledged in turn) on WS node 1, the members on WS node 2, every message stored and crossing Redis; \
            server CPU is both WS nodes and the API node. `\(SocketIOPeer.name)`: python-socketio's AsyncServer with \
            AsyncRedisManager, two instances on the same Redis, as many senders on one and the members on the other; server \
            CPU is both instances. `bare`: a Hummingbird WebSocket broadcast that awaits one write per socket, with no \
            bus, auth or JSON: the floor.

            \(rows.joined(separator: "\n"))

            \(ratios.map { "- \($0)" }.joined(separator: "\n"))
            """
        return Report(
            scenario: "fanout", table: rows.joined(separator: "\n"), markdown: markdown, json: json("fanout", parley + peer + bare))
    }

    public static func relay(_ result: RelayResult) -> Report {
        var rows = [
            "| system | kind | load | rate/s | p50 | p99 | p99.9 | max | server CPU each |", "|---|---|---|---|---|---|---|---|---|",
        ]
        for run in result.runs {
            let step = run.step
            rows.append(
                "| \(run.system) | \(run.kind) | \(Int(run.fraction * 100))% | \(count(step.perSecond)) | \(ms(step.p50)) | \(ms(step.p99)) | "
                    + "\(ms(step.p999)) | \(ms(step.max)) | " + micros(step.cpuMicros)
                    + (step.complete ? "" : " (\(step.expected - step.received) missing)") + " |")
        }
        let markdown = """
            1:1 across nodes: senders on WS node 1, receivers on WS node 2 (for the \(SocketIOPeer.name) peer, instance 1 \
            and instance 2); latency from the intended send time to arrival. Messages go through each pair's room; \
            Parley's signals go to the other attendee of the pair's meeting, the peer's to the other socket's `sid`. \
            The load is a fraction of \(count(result.reference))/s, \(result.referenceSource).

            \(rows.joined(separator: "\n"))
            """
        return Report(scenario: "relay", table: rows.joined(separator: "\n"), markdown: markdown, json: json("relay", result))
    }

    /// Where the CPU of a durable step went, per acknowledged send, and the rate the machine's cores would hold at
    /// that cost.
    private static func cpuBudget(_ step: Step) -> String {
        let names = ["generator": "the generator", "haproxy": "HAProxy", "postgres": "Postgres", "redis": "Redis"]
        let shares = step.otherCPUSeconds.sorted { $0.key < $1.key }.map { "\(names[$0.key] ?? $0.key) \(micros(step.micros($0.value)))" }
        let all = step.micros(step.allCPUSeconds)
        let serving = all - step.micros(step.otherCPUSeconds["generator"] ?? 0)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        func rate(_ micros: Double) -> String { micros > 0 ? count(cores * 1e6 / micros) : "?" }
        return """
            Where the CPU goes, per acknowledged send at \(count(step.perSecond))/s (the fastest step under \
            \(Int(Durable.throughputLimit)) ms): the nodes \(micros(step.cpuMicros)), \(shares.joined(separator: ", ")); \
            \(micros(all)) in all (the kernel's threads, such as the disk's flushes, not counted). At that cost the \
            machine's \(Int(cores)) cores hold at most \(rate(all)) sends a second, however the commit is made, and \
            \(rate(serving)) if the generator ran elsewhere.
            """
    }

    public static func durable(_ result: DurableResult, senders: Int) -> Report {
        var rows = [
            "| offered/s | acknowledged/s | p50 ack | p99 ack | max | server CPU each | Postgres each | generator each | all processes each |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for step in result.steps {
            rows.append(
                "| \(count(step.rate)) | \(count(step.perSecond)) | \(ms(step.p50)) | \(ms(step.p99)) | \(ms(step.max)) | "
                    + micros(step.cpuMicros) + (step.complete ? "" : " (\(step.expected - step.received) unacknowledged)") + " | "
                    + micros(step.micros(step.otherCPUSeconds["postgres"] ?? 0)) + " | "
                    + micros(step.micros(step.otherCPUSeconds["generator"] ?? 0)) + " | " + micros(step.micros(step.allCPUSeconds)) + " |")
        }
        let best =
            (result.best.map { "\(count($0.perSecond)) acknowledged sends/s with p99 \(ms($0.p99))" }
                ?? "no rate held p99 ack under \(Int(Durable.p99Limit)) ms")
            + (result.fastest.map {
                "; fastest with p99 under \(Int(Durable.throughputLimit)) ms: \(count($0.perSecond))/s (p50 \(ms($0.p50)), p99 \(ms($0.p99)))"
            } ?? "")
        let budget = result.fastest.map(cpuBudget) ?? ""
        let markdown = """
            \(senders) connections on one WS node send into their own rooms; each send is timed from its intended send \
            time until its acknowledgement, which comes after the commit (Postgres 15, `fsync` on). After an unrecorded \
            second at the first rate, the rate rises by half each step until two steps in a row pass \
            \(Int(Durable.throughputLimit)) ms, with a step halfway (×1.22) after each that misses \
            \(Int(Durable.p99Limit)) ms just above one that held. Best: \(best).

            The disk under Postgres, probed first in the same run (\(result.disk.count) `fdatasync`s of one 8 KiB page, one \
            every 4 ms, as a WAL flush does): p50 \(ms(result.disk.p50)), p99 \(ms(result.disk.p99)), p99.9 \
            \(ms(result.disk.p999)), max \(ms(result.disk.max)). Every acknowledgement waits for such a flush, so a send \
            that meets a slow one is as late as the flush.

            \(budget)

            \(rows.joined(separator: "\n"))
            """
        return Report(scenario: "durable", table: rows.joined(separator: "\n") + "\n\n" + budget, markdown: markdown, json: json("durable", result))
    }
}

extension Report {
    public static func idle(_ results: [IdleResult], node: String) -> Report {
        var rows = ["| idle connections | node RSS | RSS before | per connection |", "|---|---|---|---|"]
        for result in results {
            rows.append(
                "| \(result.connections) | \(mebibytes(result.residentBytes)) | \(mebibytes(result.baselineBytes)) | "
                    + String(format: "%.1f KiB", result.bytesPerConnection / 1024) + " |")
        }
        let markdown = """
            Authenticated connections, one user each, that say nothing after `hello`, opened on \(node) in steps by \
            child generator processes of at most \(Idle.perProcess) connections; per connection is the node's RSS \
            over its RSS before the first connection.

            \(rows.joined(separator: "\n"))
            """
        return Report(scenario: "idle", table: rows.joined(separator: "\n"), markdown: markdown, json: json("idle", results))
    }
}

extension Report {
    public static func storm(_ result: StormResult) -> Report {
        let rows = [
            "| clients | caught up | p50 | p99 | all back and caught up | greeted again: p50 | all greeted | presence events in \(Storm.presenceWindow.components.seconds) s |",
            "|---|---|---|---|---|---|---|---|",
            "| \(result.clients) | \(result.caughtUp) | \(ms(result.p50)) | \(ms(result.p99)) | \(ms(result.max)) | \(ms(result.backP50)) "
                + "| \(ms(result.backMax)) | \(result.presenceEvents) |",
        ]
        let markdown = """
            \(result.clients) clients on WS node 1, one user each, in rooms of \(Storm.roomSize), held by child generator \
            processes of at most \(Storm.perProcess). Once every client is subscribed and the rooms have heard every user \
            come online (no `presence` event for \(Storm.settled.components.seconds) s), node 1 is killed with SIGKILL \
            and every room gets a message over REST while its members are away; each client reconnects straight to WS \
            node 2 (again after 100–500 ms while that fails), resubscribes with `since`, and is caught up once it holds \
            that message. Times are from the kill; "greeted again" is when the other node's `hello` came, before the \
            resubscription. The presence events are those the clients received in the \
            \(Storm.presenceWindow.components.seconds) s after the kill: a user back before the dead node is claimed is \
            no news, so each one is noise.

            \(rows.joined(separator: "\n"))
            """
        return Report(scenario: "storm", table: rows.joined(separator: "\n"), markdown: markdown, json: json("storm", result))
    }
}

private func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
