import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ParleyCore

/// The first handler of every connection, alone on its pipeline until the first request's head is in. A WebSocket
/// upgrade is checked and answered here, by hand, and the socket gets the frame codec and the gateway's handler,
/// with no HTTP handler added only to be taken off again: NIO's upgrade adds an HTTP parser and three handlers and
/// then removes them, each removal a chain of futures, on every socket of a reconnect storm. Any other request gets
/// the HTTP/1.1 handlers, and the bytes read so far go to them. A
/// refused upgrade is answered like any REST error: the error's status and a JSON body.
final class FirstRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    typealias Admission = Result<Tokens.Access, ParleyError>

    /// Nil on a node that serves no WebSockets: every upgrade is refused.
    private let gateway: Gateway?
    private let limits: ClientLimits
    /// Set for a connection from an address that holds as many as it may: it is answered 429 at once.
    private let overCap: Bool
    private let logger: Logger
    private let decided: EventLoopPromise<GatewayChannel.Upgrade>
    private var received: ByteBuffer?
    /// Set once the head is in: what arrives after it waits in `received` for the handlers that take over.
    private var isDeciding = false
    /// The head's deadline, which an upgrade's admission must meet too; cancelled once the connection is handed
    /// over or refused.
    private var deadline: Scheduled<Void>?

    init(
        gateway: Gateway?, limits: ClientLimits, overCap: Bool, logger: Logger, decided: EventLoopPromise<GatewayChannel.Upgrade>
    ) {
        self.gateway = gateway
        self.limits = limits
        self.overCap = overCap
        self.logger = logger
        self.decided = decided
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if overCap {
            isDeciding = true
            return refuse(.rateLimited("too many connections from your address", retryAfter: 1), context: context)
        }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: limits.headTimeout) { [self] in
            deadline = nil
            guard context.channel.isActive else { return }
            // A client still sending its head (slowloris) is told why; one whose upgrade is being checked is cut off.
            if isDeciding { return context.close(promise: nil) }
            isDeciding = true
            refuse(ParleyError(.timeout, "the request head took longer than \(limits.headTimeout.nanoseconds / 1_000_000_000) s"), context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server allows half-closed connections for HTTP's sake; a client that stopped sending before its
        // request was whole will send no request, and its connection must not linger in CLOSE-WAIT. A node that
        // stops does not wait for a head still coming.
        if case ChannelEvent.inputClosed = event, !isDeciding { return context.close(promise: nil) }
        if event is ChannelShouldQuiesceEvent, !isDeciding { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let searched = received?.readableBytes ?? 0
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        guard !isDeciding, let received else {
            // A client is to wait for the 101 before it sends frames; one that floods meanwhile is cut off.
            if (received?.readableBytes ?? 0) > RequestHead.maxBytes + Gateway.maxMessageBytes { context.close(promise: nil) }
            return
        }
        switch RequestHead.read(received, searched: searched) {
        case .incomplete:
            return
        case .refused(let code, let message):
            isDeciding = true
            refuse(ParleyError(code, message), context: context)
        case .complete(let head, let length) where head.asksForWebSocket:
            isDeciding = true
            // RFC 6455 wants the versions the server speaks named beside a refused handshake.
            if let error = head.webSocketHandshakeError { return refuse(error, context: context, headers: "Sec-WebSocket-Version: 13\r\n") }
            let admission = context.eventLoop.makePromise(of: Admission.self)
            let channel = context.channel
            admission.completeWithTask { [gateway, logger] in await Self.admit(head, on: channel, gateway: gateway, logger: logger) }
            admission.futureResult.assumeIsolated().whenSuccess { admission in
                switch admission {
                case .success(let access): self.open(head, length: length, access: access, context: context)
                case .failure(let error): self.refuse(error, context: context)
                }
            }
        case .complete:
            isDeciding = true
            serveHTTP(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        decided.succeed(.closed)
        context.fireChannelInactive()
    }

    /// The socket's handlers take over: the 101 goes out first, then whatever the gateway's handler writes.
    private func open(_ head: HTTPRequestHead, length: Int, access: Tokens.Access, context: ChannelHandlerContext) {
        guard let gateway, context.channel.isActive else { return }
        let response =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
            + "Sec-WebSocket-Accept: \(head.webSocketAccept)\r\nSec-WebSocket-Protocol: \(WebSocketAuthenticator.subprotocol)\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)), promise: nil)
        received?.moveReaderIndex(forwardBy: length)
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(WebSocketFrameEncoder())
            // `SocketHandler` closes the socket on a broken frame, with the code that fits it.
            try pipeline.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: Gateway.maxMessageBytes)))
            try gateway.open(context.channel, access: access)
        } catch {
            logger.error("could not open the WebSocket", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        handOver(context: context, .webSocket)
    }

    /// The HTTP/1.1 handlers as Hummingbird's own channel sets them up, for a node whose WebSocket upgrade is
    /// handled here.
    private func serveHTTP(context: ChannelHandlerContext) {
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false,  // NIOAsyncChannel pipelines HTTP
                withErrorHandling: false,  // Hummingbird handles errors
                withOutboundHeaderValidation: false  // HTTPTypes validates them
            )
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(RequestDeadlines(bodyTimeout: limits.bodyTimeout))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: .nanoseconds(limits.idleTimeout.nanoseconds), logger: logger))
            let http = try HTTP1Channel.Value(wrappingChannelSynchronously: context.channel, configuration: .init(isOutboundHalfClosureEnabled: true))
            handOver(context: context, .http(http))
        } catch {
            logger.error("could not set up HTTP on a connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Answers with the error's status, `headers` (CRLF-ended lines) and `{"error": {"code", "message"}}`, and
    /// closes.
    private func refuse(_ error: ParleyError, context: ChannelHandlerContext, headers: String = "") {
        deadline?.cancel()
        deadline = nil
        let retryAfter = error.retryAfter.map { "Retry-After: \($0)\r\n" } ?? ""
        let body = (try? JSONEncoder().encode(ErrorMiddleware.Envelope(error))) ?? Data()
        let status = error.code.status
        var response = context.channel.allocator.buffer(capacity: 160 + body.count)
        response.writeString(
            "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/json; charset=utf-8\r\n"
                + "Content-Length: \(body.count)\r\nConnection: close\r\n" + SecurityHeaders.lines + retryAfter + headers + "\r\n")
        response.writeBytes(body)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Gives what was read after the head (all of it, for HTTP) to the handlers that take over, and leaves.
    private func handOver(context: ChannelHandlerContext, _ upgrade: GatewayChannel.Upgrade) {
        deadline?.cancel()
        deadline = nil
        if let rest = received, rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        received = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        decided.succeed(upgrade)
    }

    private static func admit(_ head: HTTPRequestHead, on channel: any NIOCore.Channel, gateway: Gateway?, logger: Logger) async -> Admission {
        guard let gateway else { return .failure(ParleyError.notFound("WebSocket endpoint on this node")) }
        do {
            return .success(try await gateway.admit(head, on: channel))
        } catch let error as ParleyError {
            return .failure(error)
        } catch {
            logger.error("upgrade check failed", metadata: ["error": "\(error)"])
            return .failure(ParleyError(.internal, "something went wrong on the server"))
        }
    }
}
