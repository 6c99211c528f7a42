import ParleyCore
import Synchronization
import Testing

@Suite("Waiting for a state")
struct WaitersTests {
    final class Count: Sendable {
        let value = Mutex(0)
    }

    @Test(
        "a waiter gets its value once a change it is told of makes its check pass, and at once when it passes already",
        .timeLimit(.minutes(1)))
    func wakes() async {
        let waiters = Waiters()
        let count = Count()
        let waited = Task { await waiters.wait(cancelled: -1) { count.value.withLock { $0 >= 3 ? $0 : nil } } }
        for _ in 1...3 {
            count.value.withLock { $0 += 1 }
            waiters.resumeAll()
        }
        #expect(await waited.value == 3)
        #expect(await waiters.wait(cancelled: -1) { count.value.withLock { $0 } } == 3)
    }

    @Test("a cancelled waiter gets what cancellation gives")
    func cancelled() async {
        let waiters = Waiters()
        let task = Task { await waiters.wait(cancelled: "cancelled") { String?.none } }
        task.cancel()
        #expect(await task.value == "cancelled")
    }
}
