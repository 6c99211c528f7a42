import Synchronization

/// A connection's queue: anyone appends, and the one writer takes everything queued at once, so that what piled up
/// while it was writing goes out in one batch.
final class ItemQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    func push(_ item: Item) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.items.append(item)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Runs `body` under the queue's lock when the writer waits in `next` on an empty queue, and returns its result;
    /// nil otherwise. What `body` does then comes before anything pushed after it, and nothing queued is overtaken.
    func whenIdle<Result: Sendable>(_ body: () -> Result) -> Result? {
        state.withLock { state in
            guard state.waiter != nil, state.items.isEmpty, !state.finished else { return nil }
            return body()
        }
    }

    /// Ends the queue: `next` returns what is left, then nil.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything queued, waiting for at least one item; nil once finished and empty, or when cancelled.
    func next() async -> [Item]? {
        while true {
            let batch = state.withLock { state -> [Item]?? in
                if !state.items.isEmpty {
                    defer { state.items = [] }
                    return .some(state.items)
                }
                return state.finished ? .some(nil) : nil
            }
            if let batch { return batch }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state in
                        if !state.items.isEmpty || state.finished { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                finish()
            }
        }
    }
}
