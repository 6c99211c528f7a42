import Foundation
import NIOCore
import ParleyTestSupport
import Testing

@testable import ParleyBus

@Suite("A Redis connection's writes", .enabled(if: TestServers.redisServer.enabled, "needs redis-server: run scripts/test"))
struct RedisConnectionTests {
    @Test("commands written on the connection's event loop in one turn share one flush, and each gets its own reply")
    func sharedFlush() async throws {
        // A Redis of the test's own: its count of reads is this connection's alone.
        let server = try RedisServer()
        defer { server.stop() }
        try await server.start()
        let connection = try await RedisConnection.connect(try RedisEndpoint(url: server.url))
        defer { Task { await connection.close() } }
        let subscriber = try await RedisConnection.connect(try RedisEndpoint(url: server.url))
        defer { Task { await subscriber.close() } }
        try await subscriber.post(["SUBSCRIBE", "parley:test:even"])

        func readsProcessed() async throws -> Int {
            let info = try #require(try await connection.send("INFO", "stats").string)
            let line = try #require(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") })
            return try #require(Int(line.split(separator: ":")[1]))
        }
        let before = try await readsProcessed()
        let loop = connection.eventLoop
        let replies = try await loop.flatSubmit {
            EventLoopFuture.whenAllSucceed(
                (0..<50).map { n in
                    connection.replies(to: [
                        [
                            ByteBuffer(string: "PUBLISH"), ByteBuffer(string: "parley:test:\(n % 2 == 0 ? "even" : "odd")"),
                            ByteBuffer(string: "m\(n)"),
                        ]
                    ])
                }, on: loop)
        }.get()
        let reads = try await readsProcessed() - before
        #expect(replies.map { $0[0].integer } == (0..<50).map { $0 % 2 == 0 ? 1 : 0 })
        // The 50 publishes and the second INFO: a few reads at most (with a flush per command, Redis made 31).
        #expect(reads <= 4, "\(reads) reads")
    }

    @Test("a pipeline of 20000 commands gets each its own reply, in order")
    func longPipeline() async throws {
        let server = try RedisServer()
        defer { server.stop() }
        try await server.start()
        let connection = try await RedisConnection.connect(try RedisEndpoint(url: server.url))
        defer { Task { await connection.close() } }
        let replies = try await connection.pipeline((0..<20000).map { n in [ByteBuffer(string: "ECHO"), ByteBuffer(string: "r\(n)")] })
        #expect(replies.map(\.string) == (0..<20000).map { "r\($0)" })
        // The connection goes on with the next request as before.
        #expect(try await connection.send("PING").string == "PONG")
    }
}
