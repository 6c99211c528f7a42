import NIOCore
import Synchronization

/// Open channels counted per key (a client address, a user), each counted until it closes.
final class ChannelCounts: Sendable {
    private let open = Mutex<[String: Int]>([:])

    /// Counts `channel` under `key` until it closes; false, counting nothing, when `key` holds `limit` already.
    /// The check and the count are one step, so that channels admitted at once cannot all pass it.
    func admit(_ channel: any Channel, as key: String, limit: Int) -> Bool {
        let admitted = open.withLock { open in
            guard open[key, default: 0] < limit else { return false }
            open[key, default: 0] += 1
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            open.withLock { open in
                open[key, default: 1] -= 1
                if open[key] == 0 { open[key] = nil }
            }
        }
        return true
    }
}

/// The TCP connections open per client address, held under `ClientLimits.connectionsPerAddress`: one address
/// cannot take all of a node's file descriptors. Load balancers (`trustedProxies`) are not counted.
final class ConnectionCaps: Sendable {
    private let counts = ChannelCounts()
    private let limit: Int
    private let exempt: Set<String>

    init(_ limits: ClientLimits) {
        self.limit = limits.connectionsPerAddress
        self.exempt = limits.trustedProxies
    }

    /// Counts a new connection until it closes; false, counting nothing, when its address holds the most it may.
    func admit(_ channel: any Channel) -> Bool {
        guard let address = channel.remoteAddress?.ipAddress, !exempt.contains(address) else { return true }
        return counts.admit(channel, as: address, limit: limit)
    }
}
