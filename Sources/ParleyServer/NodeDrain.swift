import Logging
import ParleyCore
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Empties a WS node before it stops, so that a rolling restart loses nothing and costs its clients no wait:
/// readiness turns false (the load balancer stops sending), new sockets are refused, and every socket is closed
/// with 1012 (service restart), on which clients reconnect at once to another node and resume with `since`. Then
/// the node shuts down as usual: in-flight requests finish, and the services stop in order.
public final class NodeDrain: Sendable {
    private let hub = Mutex<Hub?>(nil)
    private let draining = Atomic<Bool>(false)

    public init() {}

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func attach(_ hub: Hub) {
        self.hub.withLock { $0 = hub }
    }

    /// Closes every socket with 1012 and returns once they are all gone, or after `timeout`.
    public func drain(within timeout: Duration = .seconds(10)) async {
        draining.store(true, ordering: .relaxed)
        guard let hub = hub.withLock({ $0 }) else { return }
        hub.closeAll(code: CloseCode.serviceRestart, reason: "node restarting: reconnect to another")
        let deadline = ContinuousClock.now + timeout
        while hub.connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Runs a node until SIGTERM or SIGINT, draining it first (see `NodeDrain`).
public func runNode(_ configuration: Configuration, registry: PrometheusCollectorRegistry, logger: Logger) async throws {
    let drain = NodeDrain()
    let application = try await buildApplication(configuration, registry: registry, logger: logger, drain: drain)
    let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
    // Each task says whether it was the services that ended: the node ends with them, while a signal only starts that.
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await services.run()
            return true
        }
        group.addTask {
            for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                logger.notice("draining before shutdown", metadata: ["signal": "\(signal)"])
                await drain.drain()
                await services.triggerGracefulShutdown()
                break
            }
            return false
        }
        while let servicesEnded = try await group.next() {
            if servicesEnded { group.cancelAll() }
        }
    }
}
