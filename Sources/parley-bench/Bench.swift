import ArgumentParser
import Foundation
import NIOPosix
import ParleyBench

/// `parley-bench SCENARIO`: measures a running cluster (`scripts/cluster up`, or `scripts/bench`, which brings one
/// up and down around the run) and writes the figures to BENCHMARKS.md.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Measure a running cluster; figures go to BENCHMARKS.md.",
        discussion: "scripts/bench SCENARIO brings up a release-built cluster, runs the scenario and takes the cluster down.",
        subcommands: [
            FanoutCommand.self, RelayCommand.self, DurableCommand.self, IdleCommand.self, StormCommand.self, AllCommand.self, BareServerCommand.self,
            HoldCommand.self,
            StormClientCommand.self,
        ])
}

struct BenchOptions: ParsableArguments {
    @Option(help: "The cluster's folder (PARLEY_CLUSTER_DIR of scripts/cluster).") var cluster =
        ProcessInfo.processInfo.environment["PARLEY_CLUSTER_DIR"] ?? ".cluster"
    @Option(help: "Seconds each rate is held.") var seconds = 5
    @Option(help: "The file the figures go to.") var output = "BENCHMARKS.md"
    @Flag(help: "Print the figures only.") var dryRun = false
    @Option(help: "The command to show beside the figures.") var command: String?
    @Flag(help: "Skip the socket.io peer in fanout and relay.") var noPeer = false
    @Option(help: "A Python with the peer's packages (bench/requirements.txt); scripts/bench makes one.") var peerPython =
        ProcessInfo.processInfo.environment["PARLEY_PEER_PYTHON"] ?? ".bench/venv/bin/python"
    @Option(help: "The peer's server.") var peerScript = "bench/socketio_peer.py"

    func clusterState() throws -> BenchCluster { try BenchCluster(folder: cluster) }

    /// The socket.io peer, unless `--no-peer`; its Python and script must be there.
    func peer() throws -> PeerSetup? {
        guard !noPeer else { return nil }
        for path in [peerPython, peerScript] where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("the socket.io peer needs \(path): run scripts/bench, which installs it, or pass --no-peer")
        }
        return PeerSetup(python: peerPython, script: peerScript)
    }

    var duration: Duration { .seconds(seconds) }

    func publish(_ report: Report) throws {
        print(report.table)
        print("JSON " + report.json)
        guard !dryRun else { return }
        try report.write(to: output, command: command ?? (["parley-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
        print("wrote the \(report.scenario) figures to \(output)")
    }
}

struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout", abstract: "Cross-node fan-out to rooms of 10, 100 and 1000, beside a bare broadcast.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Room sizes, comma-separated.") var sizes = "10,100,1000"
    @Flag(help: "Skip the bare broadcast floor.") var noBare = false
    @Option(help: "Sending connections, one user's, each acknowledged in turn.") var senders = Scenarios.fanoutSenders

    func run() async throws {
        let report = try await fanout(
            options: options, sizes: try parseCounts(sizes, option: "--sizes", upTo: 5000), senders: senders, bare: !noBare)
        try options.publish(report.report)
    }
}

struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "relay", abstract: "1:1 messages and signals across nodes at 10%, 50% and 80% load.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Sender and receiver pairs.") var pairs = 50
    @Option(help: "The saturation rate the load is a fraction of; found first when unset.") var reference: Double?

    func run() async throws {
        try options.publish(try await relay(options: options, pairs: pairs, reference: reference.map { ($0, "the rate given with --reference") }))
    }
}

struct DurableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durable", abstract: "Acknowledged sends per second, p99 time to ack, and the CPU of every process of the run per send.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Sending connections.") var senders = 500

    func run() async throws {
        try options.publish(try await durable(options: options, senders: senders))
    }
}

struct IdleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle", abstract: "RSS per idle authenticated connection on one WS node.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Connection counts, comma-separated, opened in steps.") var counts = "5000,10000,18000"

    func run() async throws {
        try options.publish(try await idle(options: options, counts: try parseCounts(counts, option: "--counts", upTo: 50_000)))
    }
}

struct StormCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm", abstract: "Kill a WS node holding many clients; time until all are back on the others and caught up.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Clients on the node that is killed.") var clients = 15_000

    func run() async throws {
        guard (1...50_000).contains(clients) else { throw ValidationError("--clients: from 1 to 50000") }
        print("storm: \(clients) clients")
        let cluster = try options.clusterState()
        try options.publish(Report.storm(try await Scenarios.storm(cluster: cluster, clients: clients, executable: CommandLine.arguments[0])))
    }
}

struct AllCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "all", abstract: "fanout, relay at fractions of its saturation, and durable.")

    @OptionGroup var options: BenchOptions

    func run() async throws {
        let fanout = try await fanout(options: options, sizes: [10, 100, 1000], senders: Scenarios.fanoutSenders, bare: true)
        try options.publish(fanout.report)
        // Messages a second, not deliveries: relay's pairs deliver each message once.
        let roomOf10 = fanout.parley.first { $0.roomSize == 10 }?.best
        let reference = roomOf10.map { ($0.rate, "the fan-out saturation of this run (room of 10, messages/s)") }
        try options.publish(try await relay(options: options, pairs: 50, reference: reference))
        try options.publish(try await durable(options: options, senders: 500))
    }
}

struct BareServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-server", abstract: "The bare broadcast server that fanout measures as its floor.", shouldDisplay: false)

    @Option var port: Int

    func run() async throws { try await BareServer.run(port: port) }
}

struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "A child load generator: holds idle connections until its input closes.", shouldDisplay: false)

    @Option var port: Int
    @Option var tokens: String
    @Option var from: Int
    @Option var count: Int

    func run() async throws { try await Hold.run(port: port, tokens: tokens, from: from, count: count) }
}

struct StormClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm-client", abstract: "A child load generator: storm clients, driven over standard input.", shouldDisplay: false)

    @Option var port: Int
    @Option var fallback: Int
    @Option var tokens: String
    @Option var rooms: String
    @Option var from: Int
    @Option var count: Int

    func run() async throws {
        try await StormClients.run(port: port, fallback: fallback, tokens: tokens, rooms: rooms, from: from, count: count)
    }
}

/// A comma-separated list of counts, each from 1 to `upTo`.
private func parseCounts(_ text: String, option: String, upTo limit: Int) throws -> [Int] {
    let counts = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !counts.isEmpty, counts.allSatisfy({ (1...limit).contains($0) }) else { throw ValidationError("\(option): counts from 1 to \(limit)") }
    return counts
}

private func fanout(
    options: BenchOptions, sizes: [Int], senders: Int, bare: Bool
) async throws -> (report: Report, parley: [FanoutResult]) {
    let cluster = try options.clusterState()
    print("fanout: rooms of \(sizes.map(String.init).joined(separator: ", ")), \(options.seconds) s per rate")
    let peer = try options.peer()
    let parley = try await Scenarios.fanout(cluster: cluster, sizes: sizes, senders: senders, duration: options.duration)
    var socketIO: [FanoutResult] = []
    if let peer {
        socketIO = try await Scenarios.peerFanout(cluster: cluster, sizes: sizes, senders: senders, duration: options.duration, peer: peer)
    }
    let floor = bare ? try await Scenarios.bareFanout(executable: CommandLine.arguments[0], sizes: sizes, duration: options.duration) : []
    return (Report.fanout(parley, peer: socketIO, bare: floor, senders: senders), parley)
}

private func relay(options: BenchOptions, pairs: Int, reference: (rate: Double, source: String)?) async throws -> Report {
    print("relay: \(pairs) pairs, \(options.seconds) s per rate")
    return Report.relay(
        try await Scenarios.relay(
            cluster: try options.clusterState(), pairs: pairs, duration: options.duration, reference: reference, peer: try options.peer()))
}

private func durable(options: BenchOptions, senders: Int) async throws -> Report {
    print("durable: \(senders) senders, \(options.seconds) s per rate")
    return Report.durable(
        try await Scenarios.durable(cluster: try options.clusterState(), senders: senders, duration: options.duration), senders: senders)
}

private func idle(options: BenchOptions, counts: [Int]) async throws -> Report {
    print("idle: \(counts.map(String.init).joined(separator: ", ")) connections")
    let cluster = try options.clusterState()
    let results = try await Scenarios.idle(cluster: cluster, counts: counts, executable: CommandLine.arguments[0])
    return Report.idle(results, node: cluster.nodes(role: "ws").first?.name ?? "?")
}
