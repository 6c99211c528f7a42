import Foundation
import NIOCore
import NIOWebSocket
import ParleyCore
import Synchronization

/// A WebSocket after the upgrade, on its event loop, behind NIO's frame codec: client messages go to the inbox,
/// fragments gathered, pings are answered, the close handshake is seen through, a broken frame closes the socket
/// with its code, and a socket that stops answering is closed. It keeps no task of its own, and is the socket's
/// only handler after the codec: each one more costs every socket memory.
final class SocketHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How long a client has to answer a close frame before the socket is closed under it.
    static let closeTimeout = TimeAmount.seconds(5)
    /// The close codes a close frame may carry (RFC 6455, 7.4.1, and IANA's registry), which the server echoes; it
    /// answers others with 1002.
    static let echoable: Set<UInt16> = Set(1000...1003).union(1007...1014).union(3000...4999)

    private let connection: Connection
    private let heartbeat: TimeAmount
    private var bucket: TokenBucket
    private let rateLimit: Int
    private var inbox: Inbox?
    private var context: ChannelHandlerContext?
    /// A read held back until the inbox shrinks.
    private var heldRead = false
    /// Whether anything came from the client since the last ping.
    private var heard = true
    /// The socket's one timer, for both the heartbeat and the token's expiry.
    private var timer: NIOScheduledCallback?
    private var pingDue = NIODeadline.distantFuture
    /// Set once the token expired without a renewal and the socket is closing with 4401.
    private var expired = false
    private var closeSent = false
    /// Set once the client went over the rate limit: what it sends after is ignored until the close.
    private var limited = false
    /// The fragments of a message so far, until its last.
    private var fragments: (opcode: WebSocketOpcode, data: ByteBuffer)?

    private let run: @Sendable (Inbound) async -> Void
    private let runAtOnce: Inbox.RunAtOnce

    /// - Parameters:
    ///   - run: runs what the client sent, one input at a time.
    ///   - runAtOnce: runs an input at once on the socket's event loop when nothing else waits, where it can (see
    ///     `Inbox`).
    init(
        connection: Connection, rateLimit: Int, heartbeat: TimeAmount, run: @escaping @Sendable (Inbound) async -> Void,
        runAtOnce: @escaping Inbox.RunAtOnce = { _, _ in false }
    ) {
        self.connection = connection
        self.rateLimit = rateLimit
        self.bucket = TokenBucket(rate: rateLimit, burst: rateLimit * 2)
        self.heartbeat = heartbeat
        self.run = run
        self.runAtOnce = runAtOnce
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connection.encodedOutput = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        inbox = Inbox(run: run, runAtOnce: runAtOnce, resumeReading: { loop.execute { handler.value.resumeReading() } })
        inbox?.push(.opened)
        // A client gone before its handlers were in place is gone all the same.
        guard context.channel.isActive else { return ended() }
        pingDue = context.eventLoop.now + heartbeat
        setTimer(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended()
        context.fireChannelInactive()
    }

    /// The socket is gone: the gateway cleans up after it, behind what the client sent before.
    private func ended() {
        connection.encodedOutput = nil
        timer?.cancel()
        inbox?.push(.closed)
        inbox = nil
        context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        heard = true
        // RFC 6455, 5.1–5.2: no extension is negotiated, a client masks every frame, and reserved opcodes mean
        // nothing. Any of these fails the connection.
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return closeNow(context: context, code: 1002, reason: "RSV bits set") }
        guard frame.maskKey != nil else { return closeNow(context: context, code: 1002, reason: "an unmasked client frame") }
        if frame.opcode == .connectionClose { return closing(frame, context: context) }
        guard !closeSent, !limited else { return }
        // Control frames count too: a ping flood is a flood.
        guard bucket.take() else {
            limited = true
            connection.fail(re: nil, ParleyError(.rateLimited, "more than \(rateLimit) frames a second"))
            connection.enqueue(.close(code: 1008, reason: "rate limit"))
            return
        }
        switch frame.opcode {
        case .text, .binary, .continuation:
            gather(frame, context: context)
        case .ping:
            // Answered only while the socket takes writes: a client that pings and never reads gets no pongs queued
            // up (RFC 6455, 5.5.3, lets a pong answer only the latest ping).
            guard context.channel.isWritable else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        default:
            closeNow(context: context, code: 1002, reason: "a reserved opcode")
        }
    }

    /// The client's close, answered with its own code (or 1002 for a code no endpoint may send, 1007 for a reason
    /// that is not UTF-8), after which the server closes the TCP connection.
    private func closing(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        guard !closeSent else { return context.close(promise: nil) }
        var data = frame.unmaskedData
        var code: UInt16 = 1000
        if data.readableBytes == 1 { return closeNow(context: context, code: 1002, reason: "a close payload of one byte") }
        if let sent = data.readInteger(as: UInt16.self) {
            guard Self.echoable.contains(sent) else { return closeNow(context: context, code: 1002, reason: "an invalid close code") }
            guard String(validating: data.readableBytesView, as: UTF8.self) != nil else {
                return closeNow(context: context, code: 1007, reason: "a close reason that is not UTF-8")
            }
            code = sent
        }
        closeSent = true
        let reply = WebSocketFrame.close(code: code, reason: "", allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Hands a whole message to the inbox, decoded: a frame that is one, or the fragments of one once its last
    /// comes. A message over `Gateway.maxMessageBytes` closes the socket with 1009.
    private func gather(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var message: (opcode: WebSocketOpcode, data: ByteBuffer)
        if frame.opcode == .continuation {
            guard var gathered = fragments else { return closeNow(context: context, code: 1002, reason: "a continuation of no message") }
            // Out of the field while it grows, so that the buffer is not copied.
            fragments = nil
            var data = frame.unmaskedData
            guard gathered.data.readableBytes + data.readableBytes <= Gateway.maxMessageBytes else {
                return closeNow(context: context, code: 1009, reason: "message too large")
            }
            gathered.data.writeBuffer(&data)
            message = gathered
        } else {
            guard fragments == nil else { return closeNow(context: context, code: 1002, reason: "a new message before the last one ended") }
            message = (frame.opcode, frame.unmaskedData)
        }
        guard frame.fin else {
            fragments = message
            return
        }
        inbox?.push(message.opcode == .text ? Inbound(text: message.data) : .binary)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose, !closeSent {
            // The server's close: the client answers with its own, on which the socket closes, or is cut off.
            closeSent = true
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeTimeout) { context.close(promise: nil) }
        }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        if inbox?.holdsReads() == true {
            heldRead = true
        } else {
            context.read()
        }
    }

    private func resumeReading() {
        guard heldRead, let context else { return }
        heldRead = false
        read(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            // The server stops: the client reconnects to another node and resumes with `since`.
            connection.enqueue(.close(code: CloseCode.serviceRestart, reason: "node stopping: reconnect to another"))
        case ChannelEvent.inputClosed:
            // The server allows half-closed connections for HTTP; a client that stops sending is gone.
            context.close(promise: nil)
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength:
            // A frame over the decoder's `maxFrameSize`.
            closeNow(context: context, code: 1009, reason: "frame too large")
        case is NIOWebSocketError:
            closeNow(context: context, code: 1002, reason: "bad control frame")
        default:
            context.close(promise: nil)
        }
    }

    /// Sends a close frame and closes the socket without waiting for the client's; for a client that broke the
    /// protocol.
    private func closeNow(context: ChannelHandlerContext, code: UInt16, reason: String) {
        guard !closeSent else { return context.close(promise: nil) }
        closeSent = true
        let frame = WebSocketFrame.close(code: code, reason: reason, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

extension SocketHandler: NIOScheduledCallbackHandler {
    /// Sets the timer for the next ping, or for the token's expiry when that comes first. An `auth` renewal moves
    /// the expiry; the timer then finds the token valid, and sets itself again.
    private func setTimer(context: ChannelHandlerContext) {
        var deadline = pingDue
        let remaining = connection.tokenExpiry.withLock { $0 }.timeIntervalSinceNow
        if !expired, remaining * 1e9 < Double(heartbeat.nanoseconds) {
            deadline = min(deadline, context.eventLoop.now + .milliseconds(Int64(max(remaining, 0) * 1000) + 10))
        }
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self)
    }

    /// Closes the socket with 4401 once its token expired; pings the client every `heartbeat`, and closes a socket
    /// that sent nothing, not even a pong, in a whole period after a ping.
    func handleScheduledCallback(eventLoop: some EventLoop) {
        guard let context else { return }
        if !expired, connection.tokenExpiry.withLock({ $0 }) <= Date() {
            expired = true
            connection.enqueue(.close(code: CloseCode.tokenExpired, reason: "token expired"))
        }
        if eventLoop.now >= pingDue {
            guard heard else { return context.close(promise: nil) }
            heard = false
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
            pingDue = eventLoop.now + heartbeat
        }
        setTimer(context: context)
    }
}
