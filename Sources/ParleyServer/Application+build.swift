import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyStore
import Prometheus

/// The composition root: picks the store and the bus from `configuration`, wires the controllers, and returns the
/// application ready to run. Nothing else in Parley reads configuration.
public func buildApplication(
    _ configuration: Configuration,
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    logger: Logger = Logger(label: "parley"),
    drain: NodeDrain = NodeDrain()
) async throws -> some ApplicationProtocol {
    var nodeLogger = logger
    nodeLogger[metadataKey: "node"] = "\(configuration.nodeId)"
    let logger = nodeLogger

    // Everything that can refuse the configuration comes before the store opens a connection.
    let tokens = await Tokens(secret: try jwtSecret(configuration))
    let bus = try makeBus(configuration, logger: logger)
    let store = try await makeStore(configuration, logger: logger)
    let meetings = Meetings(configuration, store: store, bus: bus, logger: logger)
    let sessions = Sessions(store: store, bus: bus, tokenLifetime: .seconds(tokens.accessLifetime), logger: logger)
    let router = try await buildRouter(
        configuration, store: store, bus: bus, tokens: tokens, sessions: sessions, meetings: meetings, registry: registry, logger: logger,
        drain: drain)
    // This run of the node on the bus: a node restarted under the same name is a new incarnation, so that the
    // survivors clean up the users and attendees of the one that died, as they would for any dead node.
    let incarnation = "\(configuration.nodeId)~\(Identifier.make("").dropFirst().prefix(6))"
    let hub = Hub(
        nodeId: incarnation, name: configuration.nodeId, bus: bus, sessions: sessions,
        fanOutFlushWindow: .milliseconds(Int64(configuration.fanOutFlushWindow)),
        logger: logger)
    drain.attach(hub)
    let presence = Presence(
        nodeId: incarnation, bus: bus, store: store, holdsConnections: configuration.role.servesWebSockets, logger: logger,
        localUsers: { hub.users })
    let gateway =
        configuration.role.servesWebSockets
        ? Gateway(
            hub: hub, store: store, bus: bus, tokens: tokens, sessions: sessions, events: EventPublisher(bus: bus, store: store, logger: logger),
            presence: presence, meetings: meetings, drain: drain, rateLimit: configuration.rateLimit,
            limits: configuration.limits, allowedOrigins: Set(configuration.allowedOrigins), logger: logger)
        : nil

    var app = Application(
        router: router,
        server: HTTPServerBuilder { [caps = ConnectionCaps(configuration.limits)] responder in
            GatewayChannel(responder: responder, gateway: gateway, limits: configuration.limits, caps: caps)
        },
        // A node that dies sends its clients to the others all at once: a short accept queue would drop their SYNs,
        // and each dropped one waits out TCP's retransmit backoff (1 s, 3 s, 7 s...). The kernel caps it at somaxconn.
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "parley", backlog: 8192),
        // Started in this order and stopped in reverse: the hub needs the bus, and both outlive the sockets.
        services: [
            store, bus, hub, presence, OutboxRelay(store: store, bus: bus, logger: logger),
            MeetingReaper(nodeId: incarnation, meetings: meetings, logger: logger),
        ],
        onServerRunning: { listener in
            // NIO accepts 4 connections per wake-up of the listening socket by default: behind a storm of
            // reconnects, a busy node would take them in at a trickle while the accept queue overflows.
            try? await listener.setOption(ChannelOptions.maxMessagesPerRead, value: 256)
        },
        logger: logger)
    if configuration.migratesAtStart {
        app.beforeServerStarts {
            let applied = try await store.migrate()
            logger.info("migrations applied", metadata: ["versions": "\(applied.joined(separator: ", "))"])
        }
    }
    return app
}

/// The REST routes a node's role serves, behind the error, metrics and authentication middleware.
func buildRouter(
    _ configuration: Configuration, store: any Store, bus: any Bus, tokens: Tokens, sessions: Sessions, meetings: Meetings,
    registry: PrometheusCollectorRegistry, logger: Logger, drain: NodeDrain = NodeDrain()
) async throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: SecurityHeaders())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: InputGuard())
    router.add(middleware: MetricsMiddleware())
    OpsController(store: store, registry: registry, nodeId: configuration.nodeId, role: configuration.role, drain: drain)
        .addRoutes(to: router)

    if configuration.role.servesREST {
        let passwords = PasswordHasher(cost: configuration.passwordCost, concurrency: configuration.limits.passwordConcurrency)
        let events = EventPublisher(bus: bus, store: store, logger: logger)
        let throttles = Throttles(bus: bus, limits: configuration.limits, logger: logger)
        let decoyHash = try await passwords.hash(Tokens.newRefreshSecret())
        AuthController(
            store: store, bus: bus, tokens: tokens, sessions: sessions, passwords: passwords, decoyHash: decoyHash, throttles: throttles,
            trustedProxies: configuration.limits.trustedProxies
        )
        .addRoutes(to: router.group("api/auth"))
        let api = router.group("api").add(middleware: Authenticator(tokens: tokens, sessions: sessions))
        UserController(store: store, bus: bus).addRoutes(to: api)
        let roomEvents = RoomEvents(bus: bus, store: store, logger: logger)
        ContactController(store: store, events: roomEvents, throttles: throttles).addRoutes(to: api)
        RoomController(store: store, events: roomEvents, meetings: meetings, throttles: throttles).addRoutes(to: api)
        MessageController(store: store, events: events, bus: bus, throttles: throttles).addRoutes(to: api)
        MeetingController(meetings: meetings, ice: ICEServers(configuration)).addRoutes(to: api)
    }
    if let folder = Bundle.module.url(forResource: "Public", withExtension: nil) {
        router.add(middleware: FileMiddleware(folder.path, searchForIndexHtml: true, logger: logger))
    }
    return router
}

/// Postgres when `DATABASE_URL` is set, else SQLite in a file.
func makeStore(_ configuration: Configuration, logger: Logger) async throws -> SQLStore {
    if let url = configuration.databaseURL {
        return try SQLStore.postgres(
            url: url, warmConnections: configuration.databaseWarmConnections, applicationName: "parley \(configuration.nodeId)",
            logger: logger)
    }
    return try await SQLStore.sqlite(path: configuration.sqlitePath, logger: logger)
}

/// Redis when `REDIS_URL` is set, else the in-process bus.
func makeBus(_ configuration: Configuration, logger: Logger) throws -> any Bus {
    guard let url = configuration.redisURL else { return LocalBus() }
    return try RedisBus(url: url, logger: logger)
}

/// The configured secret; in embedded mode, one generated on first start and kept beside the SQLite file.
func jwtSecret(_ configuration: Configuration) throws -> String {
    if let secret = configuration.jwtSecret {
        // HS256 wants a key at least as long as its hash.
        guard secret.utf8.count >= 32 else { throw ConfigurationError("PARLEY_JWT_SECRET must be at least 32 bytes long") }
        return secret
    }
    guard configuration.databaseURL == nil else {
        throw ConfigurationError("PARLEY_JWT_SECRET is required when DATABASE_URL is set: every node must sign with the same key")
    }
    let path = configuration.sqlitePath + ".jwt-secret"
    if let secret = try? String(contentsOfFile: path, encoding: .utf8), !secret.isEmpty {
        return secret.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let secret = Tokens.newRefreshSecret()
    guard FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw ConfigurationError("cannot write the signing key to \(path); set PARLEY_JWT_SECRET or PARLEY_SQLITE_PATH")
    }
    return secret
}
