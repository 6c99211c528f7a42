import Synchronization

/// A socket's queue, drained by a task that lives only while there is work: anyone appends, and whoever appends to
/// a queue no task drains starts one. The task takes everything queued at once, so that what piled up while it
/// worked goes out in one batch, and ends when it finds the queue empty. An idle socket keeps no task.
final class ItemQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var draining = false
        var finished = false
    }

    private let state = Mutex(State())

    /// Appends an item. Returns true when no task drains the queue: the caller is to start one, which calls
    /// `take` until it returns nil.
    func push(_ item: Item) -> Bool {
        state.withLock { state in
            guard !state.finished else { return false }
            state.items.append(item)
            defer { state.draining = true }
            return !state.draining
        }
    }

    /// Everything queued; nil when nothing is, and the draining task is to end (the next `push` starts another).
    func take() -> [Item]? {
        state.withLock { state in
            guard !state.items.isEmpty, !state.finished else {
                state.draining = false
                return nil
            }
            defer { state.items = [] }
            return state.items
        }
    }

    /// Claims the queue for the caller when no task drains it and nothing waits in it: what is pushed until the
    /// caller's `release` waits in the queue. Returns false, having claimed nothing, otherwise.
    func claim() -> Bool {
        state.withLock { state in
            guard !state.draining, state.items.isEmpty, !state.finished else { return false }
            state.draining = true
            return true
        }
    }

    /// Ends a claim. Returns true when items were pushed meanwhile: the caller is to start a task that drains
    /// them, as after a `push` that returned true.
    func release() -> Bool {
        state.withLock { state in
            guard !state.items.isEmpty, !state.finished else {
                state.draining = false
                return false
            }
            return true
        }
    }

    /// How many items wait for the draining task.
    var count: Int { state.withLock { $0.items.count } }

    /// Runs `body` under the queue's lock when no task drains the queue and nothing waits in it, and returns its
    /// result; nil otherwise. What `body` does then comes before anything pushed after it, and nothing queued is
    /// overtaken.
    func whenIdle<Result: Sendable>(_ body: () -> Result) -> Result? {
        state.withLock { state in
            guard !state.draining, state.items.isEmpty, !state.finished else { return nil }
            return body()
        }
    }

    /// Ends the queue: what is in it is dropped, and nothing more is taken in.
    func finish() {
        state.withLock { state in
            state.finished = true
            state.items = []
        }
    }
}
