import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// A node's connections: HTTP/1.1 for the REST routes, and the WebSocket upgrade at `/ws`, told apart and
/// upgraded by `FirstRequestHandler`. An upgraded socket is served by the gateway's handlers on its event loop,
/// and the connection's task ends there, so that a socket keeps no task while it is open (hummingbird-websocket
/// keeps one per socket for its lifetime, and two more for the handler and the pings).
struct GatewayChannel: ServerChildChannel, HTTPChannelHandler {
    enum Upgrade: Sendable {
        case webSocket
        case http(HTTP1Channel.Value)
        /// Closed before or after its first request was answered: a refused upgrade, or a client gone.
        case closed
    }

    struct Value: ServerChildChannelValue {
        let upgrade: EventLoopFuture<Upgrade>
        let channel: any NIOCore.Channel
    }

    let responder: HTTPChannelHandler.Responder
    /// Nil on a node that serves no WebSockets: every upgrade is refused.
    let gateway: Gateway?
    let limits: ClientLimits
    let caps: ConnectionCaps

    init(responder: @escaping HTTPChannelHandler.Responder, gateway: Gateway?, limits: ClientLimits, caps: ConnectionCaps) {
        self.responder = Self.refusingLateUpgrades(responder)
        self.gateway = gateway
        self.limits = limits
        self.caps = caps
    }

    func setup(channel: any NIOCore.Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // A connection keeps its last receive buffer for the next read: an idle socket's reads are small.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            let decided = channel.eventLoop.makePromise(of: Upgrade.self)
            let handler = FirstRequestHandler(
                gateway: gateway, limits: limits, overCap: !caps.admit(channel), logger: logger, decided: decided)
            try channel.pipeline.syncOperations.addHandler(handler)
            return Value(upgrade: decided.futureResult, channel: channel)
        }
    }

    /// Receive buffers from 1 KiB, which holds an upgrade request with its token, growing to 64 KiB for bodies.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 65536)

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgrade.get() {
            case .webSocket, .closed:
                // The socket's handlers serve it from here on, or there is nothing left to serve.
                return
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            }
        } catch {
            logger.debug("the connection failed before its first request", metadata: ["error": "\(error)"])
        }
    }

    /// An upgrade is taken only as a connection's first request (`FirstRequestHandler` reads only the first); a
    /// later one is refused. As hummingbird-websocket does, the client is sent to the same path on a new connection.
    private static func refusingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct LateUpgrade: Error {}
        return { request, writer, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                return try await responder(request, writer, channel)
            }
            let location = request.uri.query.map { "\(request.uri.path)?\($0)" } ?? request.uri.path
            try await writer.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: location]))
            // Thrown to close the connection.
            throw LateUpgrade()
        }
    }
}
