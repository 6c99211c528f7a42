import Foundation
import Testing

/// A Redis Cluster of the test's own, from Debian's redis-server: `masters` masters, each with a replica, made with
/// `redis-cli --cluster create`, on free loopback ports.
public final class RedisClusterServer: Sendable {
    public let servers: [RedisServer]

    public init(masters: Int = 3) throws {
        // The cluster bus listens on a port of its own, picked free as well: by default it is the port + 10000,
        // which a free port high up the range would push past 65535.
        servers = try (0..<(masters * 2)).map { _ in
            try RedisServer(arguments: [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
                "--repl-diskless-sync-delay", "0",
                "--cluster-port", "\(try RedisServer.freePort())",
            ])
        }
    }

    /// The seed nodes, `host:port,...`, as `REDIS_CLUSTER` takes them.
    public var seeds: String { servers.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    /// Starts every server, makes them one cluster, and returns once it says `cluster_state:ok`.
    public func start(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for server in servers { try await server.start(sourceLocation: sourceLocation) }
        let create = try Self.cli(["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "1", "--cluster-yes"])
        guard create.status == 0 else { throw NodeError(description: "redis-cli --cluster create failed:\n\(create.output)") }
        // Ok, and every replica holds its master's data: a replica that never synced cannot take over.
        try await waitUntil("the cluster is ok and its replicas synced", within: .seconds(30), sourceLocation: sourceLocation) {
            self.servers.allSatisfy { server in
                (try? Self.cli(["-p", "\(server.port)", "cluster", "info"]))?.output.contains("cluster_state:ok") == true
                    && (try? Self.cli(["-p", "\(server.port)", "info", "replication"]))?.output.contains("master_link_status:down") == false
            }
        }
    }

    public func stop() {
        servers.forEach { $0.stop() }
    }

    /// redis-cli's exit status and output.
    @discardableResult
    public static func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestServers.redisServer.require()).deletingLastPathComponent()
            .appendingPathComponent("redis-cli")
        process.arguments = arguments
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try launch(process)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
