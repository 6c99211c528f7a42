import Foundation
import Testing

/// A redis-server of the test's own, on a free port, that the test can stop and start again.
public final class RedisServer: @unchecked Sendable {
    // @unchecked: `process` is replaced only by `start`, which the one test that owns the server calls in sequence.
    public let port: Int
    let directory: URL
    private var process: Process?

    public init() throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts the server and returns once it answers. Needs redis-server (`TestServers.redisServer`).
    public func start(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestServers.redisServer.require(sourceLocation: sourceLocation))
        process.arguments = ["--bind", "127.0.0.1", "--port", "\(port)", "--save", "", "--appendonly", "no", "--dir", directory.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await waitUntil("redis-server answers on port \(port)", sourceLocation: sourceLocation) {
            (try? await RedisPing.ping(port: port)) == true
        }
    }

    public func kill() async {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        await process.exited()
    }

    /// Kills the server if it runs, without waiting, and removes its directory.
    public func stop() {
        if let process, process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    public static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Whether something answers PING on a port, through redis-cli.
public enum RedisPing {
    public static func ping(port: Int) async throws -> Bool {
        let process = Process()
        // redis-cli comes with redis-server.
        process.executableURL = URL(fileURLWithPath: try TestServers.redisServer.require()).deletingLastPathComponent()
            .appendingPathComponent("redis-cli")
        process.arguments = ["-p", "\(port)", "ping"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard await process.exited(within: 5) else {
            process.terminate()
            return false
        }
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("PONG")
    }
}
