import NIOCore
import ParleyBus
import ParleyCore

/// The hub's bus subscriptions: each channel subscribed while a local connection needs it, the operations on one
/// channel in the order the hub decided them.
extension Hub {
    /// Records a need of `channel` and returns once the node receives it. `add` records the need and says whether
    /// the channel was needed already. The first to need it subscribes; whoever comes while that is on its way
    /// waits for the same subscription (the channel's last operation, since a channel needed already was last
    /// subscribed), so that no one reads the store before the channel's messages reach the node. When the
    /// subscription fails, each of them takes its need back with `undo` and throws.
    func need(
        _ channel: String, add: (inout State) -> Bool, undo: @escaping @Sendable (inout State) -> Void
    ) async throws {
        let subscribing = state.withLock { state in
            add(&state) ? state.pending[channel]?.task : queue(.subscribe, [channel], in: &state)
        }
        do {
            try await subscribing?.value
        } catch {
            // The failed subscription stays, so that those who come before every need is taken back fail too; the
            // next first need queues behind it.
            state.withLock { undo(&$0) }
            throw error
        }
    }

    /// Starts subscribing or unsubscribing `channels` once the operations queued on them before are done. Called
    /// in the same lock as the change of needs that calls for it, so that the bus sees each channel's subscribes
    /// and unsubscribes in the order the hub decided them: a join that comes as the room's last socket leaves is
    /// subscribed after the leave's unsubscribe, not undone by it.
    func queue(_ operation: Operation, _ channels: [String], in state: inout State) -> Task<Void, any Error> {
        state.operations += 1
        let id = state.operations
        let before = channels.compactMap { state.pending[$0]?.task }
        let task = Task {
            for task in before { _ = await task.result }
            let subscription = try await self.subscription()
            switch operation {
            case .subscribe: try await subscription.subscribe(channels)
            case .unsubscribe: try await subscription.unsubscribe(channels)
            }
            self.state.withLock { state in
                for channel in channels where state.pending[channel]?.id == id { state.pending.removeValue(forKey: channel) }
            }
        }
        for channel in channels { state.pending[channel] = (id, task) }
        return task
    }

    /// The node's subscription, once the hub has it: a connection that comes as the node starts waits for it.
    func subscription() async throws -> any BusSubscription {
        if let subscription = state.withLock({ $0.subscription }) { return subscription }
        let waited = try await withDeadline(.seconds(5)) { [self] in
            try await subscribed.wait(cancelled: .failure(CancellationError())) {
                state.withLock { state -> Result<any BusSubscription, any Error>? in
                    if let subscription = state.subscription { return .success(subscription) }
                    return state.stopped ? .failure(ParleyError(.unavailable, "the node is stopping")) : nil
                }
            }.get()
        }
        guard let waited else { throw ParleyError(.internal, "the node is not connected to its bus") }
        return waited
    }
}
