import NIOCore
import ParleyBus
import Testing

/// The behaviour every `Bus` has. The Redis bus joins the arguments when it exists.
@Suite("Bus conformance")
struct BusConformanceTests {
    static let buses: [@Sendable () -> any Bus] = [{ LocalBus() }]

    @Test("a subscription receives its channels' messages in publish order, and nothing after unsubscribing", arguments: 0..<buses.count)
    func subscribeAndUnsubscribe(bus index: Int) async throws {
        let bus = Self.buses[index]()
        try await bus.withSubscription { subscription in
            try await subscription.subscribe(["parley:room:a", "parley:room:b"])
            for n in 1...3 {
                try await bus.publish(ByteBuffer(string: "a\(n)"), to: "parley:room:a")
            }
            try await bus.publish(ByteBuffer(string: "elsewhere"), to: "parley:room:c")
            try await bus.publish(ByteBuffer(string: "b1"), to: "parley:room:b")
            try await subscription.unsubscribe(["parley:room:a"])
            try await bus.publish(ByteBuffer(string: "a4"), to: "parley:room:a")
            try await bus.publish(ByteBuffer(string: "b2"), to: "parley:room:b")

            var received: [String] = []
            for await message in subscription.messages {
                received.append("\(message.channel.split(separator: ":").last!)=\(String(buffer: message.payload))")
                if received.count == 5 { break }
            }
            #expect(received == ["a=a1", "a=a2", "a=a3", "b=b1", "b=b2"])
        }
    }

    @Test("every subscription to a channel gets each message", arguments: 0..<buses.count)
    func fanOut(bus index: Int) async throws {
        let bus = Self.buses[index]()
        try await bus.withSubscription { first in
            try await bus.withSubscription { second in
                try await first.subscribe(["parley:user:u1"])
                try await second.subscribe(["parley:user:u1"])
                try await bus.publish(ByteBuffer(string: "hello"), to: "parley:user:u1")
                var firstIterator = first.messages.makeAsyncIterator()
                var secondIterator = second.messages.makeAsyncIterator()
                #expect(await firstIterator.next().map { String(buffer: $0.payload) } == "hello")
                #expect(await secondIterator.next().map { String(buffer: $0.payload) } == "hello")
            }
        }
    }
}
