import ParleyCore

extension LiveClient {
    /// Returns true once the socket has connected more than `connects` times; false at `deadline`, or once the client
    /// is stopped.
    func reconnected(since connects: Int, before deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.connected.wait(cancelled: false) {
                    self.state.withLock { state in state.connects > connects ? true : state.stopped ? false : nil }
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }
}
