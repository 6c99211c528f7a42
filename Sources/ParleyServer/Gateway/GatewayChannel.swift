import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ParleyCore

/// A node's connections: HTTP/1.1 for the REST routes, and the WebSocket upgrade at `/ws`. An upgraded socket is
/// handed to the gateway's handlers on its event loop, and the connection's task ends there, so that a socket
/// keeps no task while it is open (hummingbird-websocket keeps one per socket for its lifetime, and two more for
/// the handler and the pings). A refused upgrade is answered like any REST error: a status and a JSON body.
struct GatewayChannel: ServerChildChannel, HTTPChannelHandler {
    enum Upgrade: Sendable {
        case webSocket
        case http(HTTP1Channel.Value)
        case refused(HTTP1Channel.Value, ParleyError)
    }

    struct Value: ServerChildChannelValue {
        let upgrade: EventLoopFuture<Upgrade>
        let channel: any NIOCore.Channel
    }

    let responder: HTTPChannelHandler.Responder
    /// Nil on a node that serves no WebSockets: every upgrade is refused.
    let gateway: Gateway?

    init(responder: @escaping HTTPChannelHandler.Responder, gateway: Gateway?) {
        self.responder = Self.refusingLateUpgrades(responder)
        self.gateway = gateway
    }

    func setup(channel: any NIOCore.Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // A connection keeps its last receive buffer for the next read: an idle socket's reads are small.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            // What the upgrade check decided: the socket's user, or why it is refused.
            let verdict = NIOLockedValueBox<Result<(userId: String, expiresAt: Date), ParleyError>?>(nil)
            let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                maxFrameSize: Gateway.maxMessageBytes,
                // `SocketHandler` closes the socket on a broken frame, with the code that fits it.
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        let decided = await admit(head, logger: logger)
                        verdict.withLockedValue { $0 = decided }
                        guard case .success = decided else { return nil }
                        return HTTPHeaders([("Sec-WebSocket-Protocol", WebSocketAuthenticator.subprotocol)])
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let gateway, case .success(let user)? = verdict.withLockedValue({ $0 }) else {
                            throw ParleyError(.internal, "upgraded without a verdict")
                        }
                        try gateway.open(channel, userId: user.userId, expiresAt: user.expiresAt)
                        return .webSocket
                    }
                })
            let notUpgraded = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let http = try HTTP1Channel.Value(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        if case .failure(let error)? = verdict.withLockedValue({ $0 }) { return .refused(http, error) }
                        return .http(http)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: notUpgraded)
            configuration.enablePipelining = false  // NIOAsyncChannel pipelines HTTP
            configuration.enableErrorHandling = false  // Hummingbird handles errors
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validates them
            let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgrade: upgrade, channel: channel)
        }
    }

    /// Receive buffers from 1 KiB, which holds an upgrade request with its token, growing to 64 KiB for bodies.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 65536)

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgrade.get() {
            case .webSocket:
                // The socket's handlers serve it from here on.
                return
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let error):
                await refuse(http, error)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("the connection closed before its first request")
        } catch {
            logger.debug("the connection failed before its first request", metadata: ["error": "\(error)"])
        }
    }

    private func admit(_ head: HTTPRequestHead, logger: Logger) async -> Result<(userId: String, expiresAt: Date), ParleyError> {
        guard let gateway else { return .failure(ParleyError.notFound("WebSocket endpoint on this node")) }
        do {
            return .success(try await gateway.admit(head))
        } catch let error as ParleyError {
            return .failure(error)
        } catch {
            logger.error("upgrade check failed", metadata: ["error": "\(error)"])
            return .failure(ParleyError(.internal, "something went wrong on the server"))
        }
    }

    /// Answers a refused upgrade with the error's status and `{"error": {"code", "message"}}`, and closes.
    private func refuse(_ http: HTTP1Channel.Value, _ error: ParleyError) async {
        let body = (try? JSONEncoder().encode(ErrorMiddleware.Envelope(error))) ?? Data()
        let head = HTTPResponse(
            status: error.code.status,
            headerFields: [.contentType: "application/json; charset=utf-8", .contentLength: "\(body.count)", .connection: "close"])
        try? await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [.head(head), .body(ByteBuffer(data: body)), .end(nil)])
        }
    }

    /// An upgrade on a connection that already served a request cannot happen any more (NIO looks for it only in
    /// the first). As hummingbird-websocket does, the client is sent to the same path on a new connection.
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
