import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import Synchronization

/// The floor the fan-out is measured against: a Hummingbird WebSocket server that writes every text frame it
/// gets to every other socket, awaiting one write per socket. No bus, no auth, no JSON, no store.
public enum BareServer {
    public static func run(port: Int) async throws {
        let sockets = Mutex<[Int: WebSocketOutboundWriter]>([:])
        let nextId = Atomic(0)
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("/") { inbound, outbound, _ in
            let id = nextId.add(1, ordering: .relaxed).newValue
            sockets.withLock { $0[id] = outbound }
            defer { sockets.withLock { $0[id] = nil } }
            for try await message in inbound.messages(maxSize: 1 << 16) {
                guard case .text(let text) = message else { continue }
                for (other, socket) in sockets.withLock({ $0 }) where other != id {
                    try? await socket.write(.text(text))
                }
            }
        }
        var logger = Logger(label: "bare")
        logger.logLevel = .warning
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            logger: logger)
        try await app.runService()
    }
}

/// A server the fan-out floor or the peer runs in, as a child process so that its CPU is its own, stopped with
/// the run: `parley-bench bare-server`, or an instance of the socket.io peer.
struct ServerProcess {
    let process: Process
    let port: Int
    var pid: Int32 { process.processIdentifier }

    /// Starts `executable` with `arguments(port)` on a port that nothing listens on and waits until it accepts
    /// connections. The port is below the kernel's ephemeral range, where the generator's own connections take
    /// theirs; one that is taken all the same (the child exits) is tried again with another.
    init(executable: String, arguments: (Int) -> [String]) throws {
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<32_000)
            if Self.accepts(port: port) { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments(port)
            try process.run()
            for _ in 0..<200 where process.isRunning {
                if Self.accepts(port: port) {
                    (self.process, self.port) = (process, port)
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                throw BenchError("\(executable) did not start on port \(port)")
            }
        }
        throw BenchError("\(executable) exited at start on five ports in a row")
    }

    /// SIGKILL: the server keeps nothing worth a graceful stop, and a child started from a thread that blocks
    /// SIGTERM inherits the block, so that `terminate()` would leave it running.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    private static func accepts(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
