import Synchronization

/// Tasks waiting for a state that others change: each waits until its check of the state gives a value, and whoever
/// changes that state calls `resumeAll` after the change. A change that comes between a waiter's check and its wait is
/// never missed: every `resumeAll` moves a generation, and a waiter that finds it moved checks again at once.
public final class Waiters: Sendable {
    private struct State {
        var generation = 0
        var next = 0
        var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The first value `check` gives: checked at once, and again after each `resumeAll`. A cancelled task gets
    /// `cancelled`.
    public func wait<Value>(cancelled: Value, until check: () -> Value?) async -> Value {
        while true {
            let (generation, id) = state.withLock { state in
                state.next += 1
                return (state.generation, state.next)
            }
            if let value = check() { return value }
            if Task.isCancelled { return cancelled }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let now = state.withLock { state in
                        guard state.generation == generation, !Task.isCancelled else { return true }
                        state.waiting[id] = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
            }
        }
    }

    /// Wakes every waiter to check again: called after a change of what they check.
    public func resumeAll() {
        let waiting = state.withLock { state in
            state.generation += 1
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for waiter in waiting { waiter.resume() }
    }
}
