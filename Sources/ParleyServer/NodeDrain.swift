import Logging
import ParleyCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// Empties a WS node before it stops, so that a rolling restart loses nothing and costs its clients no wait:
/// readiness turns false (the load balancer stops sending), new sockets are refused, and every socket is closed
/// with 1012 (service restart), on which clients reconnect at once to another node and resume with `since`. Then
/// the node shuts down as usual: in-flight requests finish, and the services stop in order.
///
/// As a service it waits for the node's graceful shutdown and drains then; `runNode` places it after the
/// application, so that it is told first and the application stops once the sockets are gone.
public final class NodeDrain: Service {
    private let hub = Mutex<Hub?>(nil)
    private let draining = Atomic<Bool>(false)
    private let logger: Logger

    public init(logger: Logger = Logger(label: "parley")) {
        self.logger = logger
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func attach(_ hub: Hub) {
        self.hub.withLock { $0 = hub }
    }

    public func run() async throws {
        // Cancellation, rather than a graceful shutdown, ends the node at once: nothing to drain then.
        guard (try? await gracefulShutdown()) != nil else { return }
        logger.notice("draining before shutdown")
        await drain()
    }

    /// Closes every socket with 1012 and returns once they are all gone, or after `timeout`.
    public func drain(within timeout: Duration = .seconds(10)) async {
        draining.store(true, ordering: .relaxed)
        guard let hub = hub.withLock({ $0 }) else { return }
        hub.closeAll(code: CloseCode.serviceRestart, reason: "node restarting: reconnect to another")
        _ = try? await withDeadline(timeout) { await hub.untilEmpty() }
    }
}

/// Runs a node until SIGTERM or SIGINT, draining it first (see `NodeDrain`).
public func runNode(_ configuration: Configuration, registry: PrometheusCollectorRegistry, logger: Logger) async throws {
    let drain = NodeDrain(logger: logger)
    let application = try await buildApplication(configuration, registry: registry, logger: logger, drain: drain)
    // Stopped in reverse order: the drain first, then the application with the node's services.
    let services = ServiceGroup(
        configuration: .init(services: [application, drain], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await services.run()
}
