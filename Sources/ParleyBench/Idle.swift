import Foundation
import NIOCore

public struct IdleResult: Sendable, Codable {
    public let connections: Int
    /// The WS node's resident memory with these connections open, and before the first.
    public let residentBytes: Int
    public let baselineBytes: Int

    public var bytesPerConnection: Double { Double(residentBytes - baselineBytes) / Double(connections) }
}

/// Idle authenticated connections on one WS node, one user each, opened in steps (5k, then up to 10k, then up to
/// 18k) by child processes of at most `perProcess` connections; after each step the node's RSS over its RSS
/// before the first connection gives the memory per connection.
struct Idle {
    static let perProcess = 6000

    let cluster: BenchCluster
    let counts: [Int]
    /// `parley-bench`, whose `hold` holds the connections.
    let executable: String

    func run() async throws -> [IdleResult] {
        guard let node = cluster.nodes(role: "ws").first else { throw BenchError("idle needs a WS node") }
        let steps = counts.sorted()
        let users = try await BenchUsers.signUp(steps.last ?? 0, url: cluster.url, label: "idle")
        let tokens = try writeLines(users.tokens, prefix: "tokens")
        defer { try? FileManager.default.removeItem(atPath: tokens) }
        let meter = ProcessMeter(pids: [node.pid])
        let baseline = meter.residentBytes()
        var children: [ChildGenerator] = []
        defer { children.forEach { $0.stop() } }
        var results: [IdleResult] = []
        for count in steps {
            let held = results.last?.connections ?? 0
            say("  \(count) idle connections on \(node.name): opening \(count - held) more")
            let more = try ChildGenerator.spread(count - held, from: held, perProcess: Self.perProcess, executable: executable) { from, count in
                ["hold", "--port", "\(node.port)", "--tokens", tokens, "--from", "\(from)", "--count", "\(count)"]
            }
            children += more
            for child in more { _ = try await child.line(startingWith: "ready") }
            // Let the node finish what the connections started (presence, subscriptions) before reading its memory.
            try await Task.sleep(for: .seconds(3))
            let result = IdleResult(connections: count, residentBytes: meter.residentBytes(), baselineBytes: baseline)
            say(String(format: "    RSS %.1f MiB, %.0f bytes per connection", Double(result.residentBytes) / 1_048_576, result.bytesPerConnection))
            results.append(result)
        }
        return results
    }
}

/// `parley-bench hold`: opens `count` authenticated connections with the tokens from line `from` of `tokens`,
/// prints `ready`, and holds them until its standard input closes.
public enum Hold {
    public static func run(port: Int, tokens path: String, from: Int, count: Int) async throws {
        let tokens = try readLines(path)
        guard from + count <= tokens.count else { throw BenchError("\(path) has \(tokens.count) tokens, not \(from + count)") }
        let peers = try await connectPeers(
            count, port: port, tokens: { tokens[from + $0] }, group: Scenarios.group, latencies: Latencies(),
            label: "idle connections", firstAddress: from)
        tellParent("ready \(peers.count)")
        await untilInputCloses()
        withExtendedLifetime(peers) {}
    }
}
