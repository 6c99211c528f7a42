import NIOCore
import Synchronization

/// The TCP connections open per client address, held under `ClientLimits.connectionsPerAddress`: one address
/// cannot take all of a node's file descriptors. Load balancers (`trustedProxies`) are not counted.
final class ConnectionCaps: Sendable {
    private let open = Mutex<[String: Int]>([:])
    private let limit: Int
    private let exempt: Set<String>

    init(_ limits: ClientLimits) {
        self.limit = limits.connectionsPerAddress
        self.exempt = limits.trustedProxies
    }

    /// Counts a new connection until it closes; false, counting nothing, when its address holds the most it may.
    func admit(_ channel: any Channel) -> Bool {
        guard let address = channel.remoteAddress?.ipAddress, !exempt.contains(address) else { return true }
        let admitted = open.withLock { open in
            guard open[address, default: 0] < limit else { return false }
            open[address, default: 0] += 1
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            open.withLock { open in
                open[address, default: 1] -= 1
                if open[address] == 0 { open[address] = nil }
            }
        }
        return true
    }
}
