import Foundation
import Logging
import ParleyBus

/// `scripts/cluster`, driven from the chaos test: the nodes it runs, and the faults it injects.
struct ClusterControl: Sendable {
    /// The script, and the cluster's folder (`PARLEY_CLUSTER_DIR`).
    let script: String
    let folder: String

    /// The node names of `scripts/cluster status`, such as `ws-2`.
    func nodes(role: String) throws -> [String] {
        try run("status").split(separator: "\n").dropFirst()
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix("\(role)-") }
    }

    /// A setting the cluster's nodes run with, such as `REDIS_URL`.
    func setting(_ name: String) throws -> String? {
        let lines = try String(contentsOfFile: folder + "/env", encoding: .utf8).split(separator: "\n")
        return lines.first { $0.hasPrefix("\(name)=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// The bus the nodes run on, for the checks: their Redis Cluster or their Redis; nil for none.
    func bus(logger: Logger) throws -> RedisBus? {
        if let seeds = try setting("REDIS_CLUSTER") { return RedisBus(cluster: try RedisEndpoint.cluster(seeds), logger: logger) }
        return try setting("REDIS_URL").map { try RedisBus(url: $0, logger: logger) }
    }

    /// Kills `name`, and returns the name of what it killed (`killed NAME`): `redis-master` names a master of the
    /// Redis Cluster, whichever it is.
    @discardableResult
    func kill(_ name: String) async throws -> String {
        try await runOffPool("kill", name).split(whereSeparator: \.isWhitespace).last.map(String.init) ?? name
    }

    func restart(_ name: String) async throws { try await runOffPool("restart", name) }
    /// Moves `slots` slots of the Redis Cluster from one master to another.
    func reshard(_ slots: Int) async throws { try await runOffPool("reshard", "\(slots)") }

    /// Runs the script on a thread of its own, so that waiting for it holds none of the few threads the clients
    /// run on; returns its output.
    @discardableResult
    private func runOffPool(_ arguments: String...) async throws -> String {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            Thread {
                do {
                    continuation.resume(returning: try run(arguments))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }

    /// Runs the script and returns its output. Spawned and reaped by hand: the nodes a restart leaves running
    /// outlive the script, and Foundation's Process waits on them.
    @discardableResult
    func run(_ arguments: String...) throws -> String { try run(arguments) }

    func run(_ arguments: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_CLUSTER_DIR"] = folder
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, script, &actions, nil, argv, envp) == 0 else { throw ChaosError("cannot run \(script)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // Exited normally with 0: the low 7 bits hold no signal and the next 8 the exit code.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw ChaosError("scripts/cluster \(arguments.joined(separator: " ")) failed:\n\(text)")
        }
        return text
    }
}

struct ChaosError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
