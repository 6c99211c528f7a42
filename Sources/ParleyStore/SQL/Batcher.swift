import Synchronization

/// Runs concurrent calls together, as group commit does: a call that finds `concurrency` batches running waits,
/// and goes with the next batch, which takes everything waiting, up to `maxSize`; one that finds a slot free runs
/// at once, in the caller's task.
///
/// Nothing waits for a batch to fill: at low load each call runs alone and at once; under load the batches grow by
/// themselves, and so one transaction, one set of statements and one WAL flush serve many calls.
final class Batcher<Request: Sendable, Response: Sendable>: Sendable {
    /// Runs one batch and gives a result for each request, in order.
    typealias Run = @Sendable ([Request]) async -> [Result<Response, any Error>]

    private struct Waiting {
        let request: Request
        let continuation: CheckedContinuation<Response, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var running = 0
    }

    let concurrency: Int
    let maxSize: Int
    private let state = Mutex(State())

    init(concurrency: Int, maxSize: Int) {
        precondition(concurrency > 0 && maxSize > 0)
        self.concurrency = concurrency
        self.maxSize = maxSize
    }

    /// Runs `request` with whatever else is waiting. Every caller passes the same `run`.
    ///
    /// A call that finds fewer than `concurrency` batches running runs its own, of itself alone, in its own task: at
    /// low load a call costs no task hop. (Nothing waits then: calls wait only while every batch slot is taken.)
    /// Calls that arrive while all are taken wait, and a task of their own runs them in batches.
    func submit(_ request: Request, run: @escaping Run) async throws -> Response {
        if takeSlot() {
            let result = await run([request])
            precondition(result.count == 1, "a batch gives one result per request")
            handOff(run)
            return try result[0].get()
        }
        return try await withCheckedThrowingContinuation { continuation in
            let leads = state.withLock { state in
                state.waiting.append(Waiting(request: request, continuation: continuation))
                guard state.running < concurrency else { return false }
                state.running += 1
                return true
            }
            if leads { Task { await drain(run) } }
        }
    }

    /// Takes a batch slot when one is free.
    private func takeSlot() -> Bool {
        state.withLock { state in
            guard state.running < concurrency else { return false }
            state.running += 1
            return true
        }
    }

    /// Frees a caller's slot after its batch; or, when calls arrived meanwhile, hands it to a task that runs them.
    private func handOff(_ run: @escaping Run) {
        let waits = state.withLock { state in
            if state.waiting.isEmpty { state.running -= 1 }
            return !state.waiting.isEmpty
        }
        if waits { Task { await drain(run) } }
    }

    /// Runs `request` with whatever else is waiting, through a `run` that answers the whole batch, or fails it as a
    /// whole.
    func submit(_ request: Request, all run: @escaping @Sendable ([Request]) async throws -> [Response]) async throws -> Response {
        try await submit(request) { batch in
            do {
                return try await run(batch).map { .success($0) }
            } catch {
                return batch.map { _ in .failure(error) }
            }
        }
    }

    /// Runs batches until nothing waits.
    private func drain(_ run: Run) async {
        while true {
            let batch = state.withLock { state in
                let batch = state.waiting.prefix(maxSize)
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.running -= 1 }
                return Array(batch)
            }
            guard !batch.isEmpty else { return }
            let results = await run(batch.map(\.request))
            precondition(results.count == batch.count, "a batch gives one result per request")
            for (waiting, result) in zip(batch, results) { waiting.continuation.resume(with: result) }
        }
    }
}
