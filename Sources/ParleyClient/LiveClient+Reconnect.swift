extension LiveClient {
    /// Returns true once the socket has connected more than `connects` times; false at `deadline`, or once the client
    /// is stopped.
    func reconnected(since connects: Int, before deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.connected(moreThan: connects) }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }

    /// Waits on `State.reconnectWaiters`, which each connect resumes with true and `stop` with false.
    private func connected(moreThan connects: Int) async -> Bool {
        let id = state.withLock { state in
            state.waiters += 1
            return state.waiters
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let known = state.withLock { state -> Bool? in
                    if state.connects > connects { return true }
                    if state.stopped || Task.isCancelled { return false }
                    state.reconnectWaiters[id] = continuation
                    return nil
                }
                if let known { continuation.resume(returning: known) }
            }
        } onCancel: {
            state.withLock { $0.reconnectWaiters.removeValue(forKey: id) }?.resume(returning: false)
        }
    }
}
