import ArgumentParser
import Foundation
import NIOPosix
import ParleyBench

/// `parley bench SCENARIO`: measures a running cluster (`scripts/cluster up`, or `scripts/bench`, which brings one
/// up and down around the run) and writes the figures to BENCHMARKS.md.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a running cluster; figures go to BENCHMARKS.md.",
        discussion: "scripts/bench SCENARIO brings up a release-built cluster, runs the scenario and takes the cluster down.",
        subcommands: [FanoutCommand.self, RelayCommand.self, DurableCommand.self, AllCommand.self, BareServerCommand.self])
}

struct BenchOptions: ParsableArguments {
    @Option(help: "The cluster's folder (PARLEY_CLUSTER_DIR of scripts/cluster).") var cluster =
        ProcessInfo.processInfo.environment["PARLEY_CLUSTER_DIR"] ?? ".cluster"
    @Option(help: "Seconds each rate is held.") var seconds = 5
    @Option(help: "The file the figures go to.") var output = "BENCHMARKS.md"
    @Flag(help: "Print the figures only.") var dryRun = false
    @Option(help: "The command to show beside the figures.") var command: String?

    func clusterState() throws -> BenchCluster { try BenchCluster(folder: cluster) }

    var duration: Duration { .seconds(seconds) }

    func publish(_ report: Report) throws {
        print(report.table)
        print("JSON " + report.json)
        guard !dryRun else { return }
        try report.write(to: output, command: command ?? (["parley"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
        print("wrote the \(report.scenario) figures to \(output)")
    }
}

struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout", abstract: "Cross-node fan-out to rooms of 10, 100 and 1000, beside a bare broadcast.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Room sizes, comma-separated.") var sizes = "10,100,1000"
    @Flag(help: "Skip the bare broadcast floor.") var noBare = false

    func run() async throws {
        let report = try await fanout(options: options, sizes: try parseSizes(sizes), bare: !noBare)
        try options.publish(report.report)
    }
}

struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "relay", abstract: "1:1 messages and signals across nodes at 10%, 50% and 80% load.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Sender and receiver pairs.") var pairs = 50
    @Option(help: "The saturation rate the load is a fraction of; found first when unset.") var reference: Double?

    func run() async throws {
        try options.publish(try await relay(options: options, pairs: pairs, reference: reference))
    }
}

struct DurableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "durable", abstract: "Acknowledged sends per second, and p99 time to ack.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Sending connections.") var senders = 50

    func run() async throws {
        try options.publish(try await durable(options: options, senders: senders))
    }
}

struct AllCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "all", abstract: "fanout, relay at fractions of its saturation, and durable.")

    @OptionGroup var options: BenchOptions

    func run() async throws {
        let fanout = try await fanout(options: options, sizes: [10, 100, 1000], bare: true)
        try options.publish(fanout.report)
        let reference = fanout.parley.first { $0.roomSize == 10 }?.best?.perSecond
        try options.publish(try await relay(options: options, pairs: 50, reference: reference))
        try options.publish(try await durable(options: options, senders: 50))
    }
}

struct BareServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-server", abstract: "The bare broadcast server that fanout measures as its floor.", shouldDisplay: false)

    @Option var port: Int

    func run() async throws { try await BareServer.run(port: port) }
}

private func parseSizes(_ text: String) throws -> [Int] {
    let sizes = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !sizes.isEmpty, sizes.allSatisfy({ (1...5000).contains($0) }) else { throw ValidationError("--sizes: room sizes from 1 to 5000") }
    return sizes
}

private func fanout(options: BenchOptions, sizes: [Int], bare: Bool) async throws -> (report: Report, parley: [FanoutResult]) {
    let cluster = try options.clusterState()
    print("fanout: rooms of \(sizes.map(String.init).joined(separator: ", ")), \(options.seconds) s per rate")
    let parley = try await Scenarios.fanout(cluster: cluster, sizes: sizes, duration: options.duration)
    let floor = bare ? try await Scenarios.bareFanout(executable: CommandLine.arguments[0], sizes: sizes, duration: options.duration) : []
    return (Report.fanout(parley, bare: floor), parley)
}

private func relay(options: BenchOptions, pairs: Int, reference: Double?) async throws -> Report {
    print("relay: \(pairs) pairs, \(options.seconds) s per rate")
    return Report.relay(
        try await Scenarios.relay(cluster: try options.clusterState(), pairs: pairs, duration: options.duration, reference: reference))
}

private func durable(options: BenchOptions, senders: Int) async throws -> Report {
    print("durable: \(senders) senders, \(options.seconds) s per rate")
    return Report.durable(
        try await Scenarios.durable(cluster: try options.clusterState(), senders: senders, duration: options.duration), senders: senders)
}
