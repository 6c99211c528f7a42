import Synchronization

/// A socket's incoming side: what the client sent, run in order by a task that lives while there is any, so
/// that an idle socket keeps no task. An input that finds nothing waiting may run at once instead, on the socket's
/// event loop, with what comes meanwhile waiting for it (a signal: see `Gateway.runAtOnce`). While `readAhead`
/// frames wait, the socket reads no more, and TCP holds the client back.
final class Inbox: Sendable {
    static let readAhead = 32

    private let queue = ItemQueue<Inbound>()
    /// Set while the socket holds its reads for the queue to shrink.
    private let holding = Atomic<Bool>(false)
    private let run: @Sendable (Inbound) async -> Void
    private let runAtOnce: RunAtOnce
    private let resumeReading: @Sendable () -> Void

    /// Runs an input at once, without waiting for it, and calls its second argument when the input is done;
    /// returns false, having done nothing, for an input that `run` is to run.
    typealias RunAtOnce = @Sendable (Inbound, _ done: @escaping @Sendable () -> Void) -> Bool

    /// - Parameters:
    ///   - run: runs one input; the next waits for it.
    ///   - runAtOnce: tried first for an input that finds nothing waiting or running.
    ///   - resumeReading: called when the queue shrank after the socket held its reads.
    init(
        run: @escaping @Sendable (Inbound) async -> Void, runAtOnce: @escaping RunAtOnce,
        resumeReading: @escaping @Sendable () -> Void
    ) {
        self.run = run
        self.runAtOnce = runAtOnce
        self.resumeReading = resumeReading
    }

    func push(_ input: Inbound) {
        if queue.claim() {
            if runAtOnce(input, { [self] in release() }) { return }
            Task {
                await self.run(input)
                if self.queue.release() { await self.runQueued() }
            }
        } else if queue.push(input) {
            Task { await self.runQueued() }
        }
    }

    /// Ends an input run outside the queue: what was pushed meanwhile runs next.
    private func release() {
        if queue.release() { Task { await self.runQueued() } }
    }

    /// Whether the socket is to hold its next read, because enough waits already. When it holds, the queue
    /// calls `resumeReading` once it has taken what waits.
    func holdsReads() -> Bool {
        guard queue.count >= Self.readAhead else { return false }
        holding.store(true, ordering: .sequentiallyConsistent)
        // The task may have taken the queue between the count and the flag: then it saw no flag, and the read goes on.
        guard queue.count >= Self.readAhead else {
            holding.store(false, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    private func runQueued() async {
        while let batch = queue.take() {
            if holding.exchange(false, ordering: .sequentiallyConsistent) { resumeReading() }
            for input in batch { await run(input) }
        }
    }
}
