import NIOCore
import ParleyBus

/// A subscription's deliveries, read in steps that each wait a bounded time: a lost message fails the test rather
/// than hanging the run. (An AsyncStream ends when its iterator goes, so one iterator serves every step.)
public final class Deliveries: @unchecked Sendable {
    /// Used by one step at a time.
    private var iterator: AsyncStream<BusDelivery>.Iterator

    public init(_ subscription: any BusSubscription) {
        iterator = subscription.deliveries.makeAsyncIterator()
    }

    /// The next delivery, or nil when none came within `seconds`.
    public func next(within seconds: Int = 15) async -> BusDelivery? {
        await withTaskGroup(of: BusDelivery?.self) { group in
            group.addTask { await self.iterator.next() }
            // The bound of the wait on the stream, not a wait itself.
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            // A cancelled wait for the next delivery ends the stream, and the test fails.
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }

    /// The next `count` messages as their channel's last part and their text ("a=a1"), skipping `.resumed`; "end"
    /// for each that did not come in time.
    public func nextMessages(_ count: Int, within seconds: Int = 15) async -> [String] {
        var received: [String] = []
        while received.count < count {
            switch await next(within: seconds) {
            case .message(let message):
                received.append("\(message.channel.split(separator: ":").last!)=\(String(buffer: message.payload))")
            case .resumed:
                continue
            case nil:
                return received + Array(repeating: "end", count: count - received.count)
            }
        }
        return received
    }
}
