import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ParleyBus
import ParleyCore
import ParleyFiles
import ParleyStore
import Prometheus

/// The composition root: picks the store and the bus from `configuration`, builds each part of the node once, wires
/// the controllers and the gateway, and returns the application ready to run. Nothing else in Parley reads
/// configuration.
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
    // A Redis that refuses this node (its password, its ACL, its certificate) stops it here, saying why.
    if let redis = bus as? RedisBus { try await redis.verify() }
    let blobs = try makeBlobStore(configuration)
    let parts = NodeParts(
        configuration, store: try await makeStore(configuration, logger: logger), bus: bus, tokens: tokens, blobs: blobs, logger: logger)
    let router = try await buildRouter(parts, registry: registry, drain: drain)
    // This run of the node on the bus: a node restarted under the same name is a new incarnation, so that the
    // survivors clean up the users and attendees of the one that died, as they would for any dead node.
    let incarnation = "\(configuration.nodeId)~\(Identifier.make("").dropFirst().prefix(6))"
    let hub = Hub(
        nodeId: incarnation, name: configuration.nodeId, bus: bus, sessions: parts.sessions,
        fanOutFlushWindow: .milliseconds(Int64(configuration.fanOutFlushWindow)),
        logger: logger)
    drain.attach(hub)
    let presence = Presence(
        nodeId: incarnation, bus: bus, store: parts.store, holdsConnections: configuration.role.servesWebSockets, logger: logger,
        localUsers: { hub.users })
    let gateway =
        configuration.role.servesWebSockets
        ? Gateway(
            hub: hub, store: parts.store, bus: bus, tokens: tokens, sessions: parts.sessions, events: parts.events, presence: presence,
            meetings: parts.meetings, attachments: parts.attachments, drain: drain, rateLimit: configuration.rateLimit, limits: configuration.limits,
            allowedOrigins: Set(configuration.allowedOrigins), logger: logger)
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
            parts.store, bus, hub, presence, OutboxRelay(store: parts.store, bus: bus, logger: logger),
            MeetingReaper(nodeId: incarnation, meetings: parts.meetings, recordings: parts.recordings, logger: logger),
            UnsentFileSweeper(
                store: parts.store, blobs: blobs, ttl: .seconds(configuration.fileUnsentTTL), sweeps: configuration.role.servesREST, logger: logger),
        ],
        onServerRunning: { listener in
            // NIO accepts 4 connections per wake-up of the listening socket by default: behind a storm of
            // reconnects, a busy node would take them in at a trickle while the accept queue overflows.
            try? await listener.setOption(ChannelOptions.maxMessagesPerRead, value: 256)
        },
        logger: logger)
    if configuration.migratesAtStart {
        app.beforeServerStarts {
            let applied = try await parts.store.migrate()
            logger.info("migrations applied", metadata: ["versions": "\(applied.joined(separator: ", "))"])
        }
    }
    return app
}

/// The parts of a node that REST and the gateway share, each built once.
struct NodeParts: Sendable {
    let configuration: Configuration
    let store: SQLStore
    let bus: any Bus
    let tokens: Tokens
    let blobs: any BlobStore
    /// Files as messages take them up and let them go, for REST sends and socket sends alike.
    let attachments: FileAttachments
    let sessions: Sessions
    let meetings: Meetings
    let recordings: Recordings
    let events: EventPublisher
    let logger: Logger

    init(_ configuration: Configuration, store: SQLStore, bus: any Bus, tokens: Tokens, blobs: any BlobStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.bus = bus
        self.tokens = tokens
        self.blobs = blobs
        attachments = FileAttachments(store: store, blobs: blobs)
        self.logger = logger
        sessions = Sessions(store: store, bus: bus, tokenLifetime: .seconds(tokens.accessLifetime), logger: logger)
        meetings = Meetings(configuration, store: store, bus: bus, logger: logger)
        events = EventPublisher(bus: bus, store: store, logger: logger)
        recordings = Recordings(
            meetings: meetings, tokens: tokens, sessions: sessions, ice: ICEServers(configuration), maxBytes: configuration.recordingMaxBytes,
            attachments: attachments, events: events, logger: logger)
    }
}

/// The REST routes a node's role serves, behind the error, metrics and authentication middleware.
func buildRouter(_ parts: NodeParts, registry: PrometheusCollectorRegistry, drain: NodeDrain = NodeDrain()) async throws -> Router<AppRequestContext>
{
    let (configuration, store, bus, tokens, sessions, logger) = (
        parts.configuration, parts.store, parts.bus, parts.tokens, parts.sessions, parts.logger
    )
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: SecurityHeaders(connectSources: try fileOrigins(configuration)))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: InputGuard())
    router.add(middleware: MetricsMiddleware())
    OpsController(store: store, registry: registry, nodeId: configuration.nodeId, role: configuration.role, drain: drain)
        .addRoutes(to: router)

    if configuration.role.servesREST {
        let passwords = PasswordHasher(cost: configuration.passwordCost, concurrency: configuration.limits.passwordConcurrency)
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
        RoomController(store: store, events: roomEvents, meetings: parts.meetings, throttles: throttles).addRoutes(to: api)
        MessageController(
            store: store, events: parts.events, bus: bus, throttles: throttles, attachments: parts.attachments
        ).addRoutes(to: api)
        MeetingController(meetings: parts.meetings, ice: ICEServers(configuration)).addRoutes(to: api)
        let files = FileController(
            store: store, blobs: parts.blobs, signer: tokens.fileLinks, maxBytes: configuration.fileMaxBytes,
            recordingMaxBytes: configuration.recordingMaxBytes, throttles: throttles)
        files.addRoutes(to: api)
        files.addLinkRoutes(to: router)
        RecordingController(recordings: parts.recordings).addRoutes(to: api)
        if let secret = configuration.recorderSecret {
            RecorderController(recordings: parts.recordings, files: files, secret: secret).addRoutes(to: router)
        }
        let avatars = AvatarController(store: store, blobs: parts.blobs, throttles: throttles)
        avatars.addRoutes(to: api)
        avatars.addPublicRoutes(to: router)
    }
    if let folder = configuration.webRoot ?? Bundle.module.url(forResource: "Public", withExtension: nil)?.path {
        router.add(middleware: FileMiddleware(folder, searchForIndexHtml: true, logger: logger))
    }
    return router
}
