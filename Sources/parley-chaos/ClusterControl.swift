import Foundation

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

    func kill(_ name: String) async throws { try await runOffPool("kill", name) }
    func restart(_ name: String) async throws { try await runOffPool("restart", name) }

    /// Runs the script on a thread of its own, so that waiting for it holds none of the few threads the clients
    /// run on.
    private func runOffPool(_ arguments: String...) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread {
                do {
                    _ = try run(arguments)
                    continuation.resume()
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
