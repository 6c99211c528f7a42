import Foundation

/// The peer measured beside Parley: two instances of python-socketio's `AsyncServer` with `AsyncRedisManager`
/// (the socket.io Redis-adapter design, `bench/socketio_peer.py`) on the cluster's Redis, driven with the same
/// load shape: senders on instance 1, receivers on instance 2.
public struct PeerSetup: Sendable {
    /// The Python that has the peer's packages (scripts/bench makes `.bench/venv`), and the peer's script.
    public let python: String
    public let script: String

    public init(python: String, script: String) {
        self.python = python
        self.script = script
    }
}

struct SocketIOPeer {
    static let name = "socket.io"

    let servers: [ServerProcess]

    init(_ setup: PeerSetup, cluster: BenchCluster) throws {
        guard let redis = cluster.setting("REDIS_URL") else { throw BenchError("no REDIS_URL in \(cluster.folder)/env") }
        var servers: [ServerProcess] = []
        for _ in 0..<2 {
            servers.append(try ServerProcess(executable: setup.python) { [setup.script, "--port", "\($0)", "--redis", redis] })
        }
        self.servers = servers
    }

    var meter: ProcessMeter { ProcessMeter(pids: servers.map(\.pid)) }

    func stop() { servers.forEach { $0.stop() } }
}
