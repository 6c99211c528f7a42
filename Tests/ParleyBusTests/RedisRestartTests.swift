import Foundation
import Logging
import NIOCore
import ParleyBus
import Testing

/// A redis-server of the test's own, on a free port, that the test can stop and start again.
final class RedisServer: @unchecked Sendable {
    // @unchecked: `process` is replaced only by `start`, which the one test that owns the server calls in sequence.
    let port: Int
    let directory: URL
    private var process: Process?

    init() throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--bind", "127.0.0.1", "--port", "\(port)", "--save", "", "--appendonly", "no", "--dir", directory.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<100 {
            if (try? await RedisPing.ping(port: port)) == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RedisError(description: "redis-server did not start on \(port)")
    }

    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    static func freePort() throws -> Int {
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
enum RedisPing {
    static func ping(port: Int) async throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", "\(port)", "ping"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("PONG")
    }
}

@Suite("Redis bus across a Redis restart", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server")))
struct RedisRestartTests {
    @Test("after Redis restarts, the bus reconnects, says .resumed, and delivers again on the same subscription")
    func reconnects() async throws {
        let server = try RedisServer()
        try await server.start()
        let bus = try RedisBus(url: server.url, logger: Logger(label: "test"))
        try await withRunning(bus) { bus in
            try await publishWhenReady(bus, "warm-up", to: "parley:room:none")
            try await bus.withSubscription { subscription in
                try await subscription.subscribe(["parley:room:r1"])
                try await bus.publish(ByteBuffer(string: "before"), to: "parley:room:r1")
                var iterator = subscription.deliveries.makeAsyncIterator()
                #expect(await iterator.nextMessage() == "r1=before")

                server.kill()
                await #expect(throws: (any Error).self) {
                    try await Task.sleep(for: .milliseconds(200))
                    try await bus.publish(ByteBuffer(string: "lost"), to: "parley:room:r1")
                }
                try await server.start()
                #expect(await iterator.next() == .resumed)
                try await publishWhenReady(bus, "after", to: "parley:room:r1")
                #expect(await iterator.nextMessage() == "r1=after")
            }
        }
    }
}
