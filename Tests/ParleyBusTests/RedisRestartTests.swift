import Foundation
import Logging
import NIOCore
import ParleyBus
import ParleyTestSupport
import Testing

@Suite("Redis bus across a Redis restart", .enabled(if: TestServers.redisServer.enabled, "needs redis-server: run scripts/test"))
struct RedisRestartTests {
    @Test("after Redis restarts, the bus reconnects, says .resumed, and delivers again on the same subscription")
    func reconnects() async throws {
        let server = try RedisServer()
        defer { server.stop() }
        try await server.start()
        let bus = try RedisBus(url: server.url, logger: Logger(label: "test"))
        try await withRunning(bus) { bus in
            try await publishWhenReady(bus, "warm-up", to: "parley:room:none")
            try await bus.withSubscription { subscription in
                try await subscription.subscribe(["parley:room:r1"])
                try await bus.publish(ByteBuffer(string: "before"), to: "parley:room:r1")
                let deliveries = Deliveries(subscription)
                #expect(await deliveries.nextMessages(1) == ["r1=before"])

                // Killed, and gone once it returns: no one is there to take a publish.
                await server.kill()
                await #expect(throws: (any Error).self) {
                    try await bus.publish(ByteBuffer(string: "lost"), to: "parley:room:r1")
                }
                try await server.start()
                #expect(await deliveries.next() == .resumed)
                try await publishWhenReady(bus, "after", to: "parley:room:r1")
                #expect(await deliveries.nextMessages(1) == ["r1=after"])
            }
        }
    }
}
