import Foundation
import NIOCore
import NIOWebSocket
import ParleyCore
import Synchronization

/// What a socket's client sent, for the gateway to run in order (`Gateway.receive`).
enum Inbound: Sendable {
    /// The socket opened: greet the client.
    case opened
    /// A text message, decoded on the socket's event loop.
    case frame(ClientFrame)
    /// A text message that is no frame: malformed JSON, or no type.
    case malformed
    /// A frame whose field is refused as it is read (a control character in a string), with the frame's id.
    case invalid(re: String?, ParleyError)
    case binary
    /// The socket is gone: clean up after it. Nothing comes after it.
    case closed

    /// A text message from the client, decoded.
    init(text: ByteBuffer) {
        do {
            self = .frame(try text.withUnsafeReadableBytes { try ClientFrame(json: $0) })
        } catch let refused as ClientFrame.Refused {
            self = .invalid(re: refused.id, refused.error)
        } catch {
            self = .malformed
        }
    }
}

/// A socket's incoming side: what the client sent, run in order by a task that lives while there is any, so
/// that an idle socket keeps no task. An input that finds nothing waiting may run at once instead, on the socket's
/// event loop, with what comes meanwhile waiting for it (a signal: see `Gateway.runAtOnce`). While `readAhead`
/// frames wait, the socket reads no more, and TCP holds the client back.
final class Inbox: Sendable {
    static let readAhead = 32

    private let queue = ItemQueue<Inbound>()
    /// Set while the socket holds its reads for the queue to shrink.
    private let holding = Atomic<Bool>(false)
    private let run: @Sendable (Inbound) async -> Void
    private let runAtOnce: RunAtOnce
    private let resumeReading: @Sendable () -> Void

    /// Runs an input at once, without waiting for it, and calls its second argument when the input is done;
    /// returns false, having done nothing, for an input that `run` is to run.
    typealias RunAtOnce = @Sendable (Inbound, _ done: @escaping @Sendable () -> Void) -> Bool

    /// - Parameters:
    ///   - run: runs one input; the next waits for it.
    ///   - runAtOnce: tried first for an input that finds nothing waiting or running.
    ///   - resumeReading: called when the queue shrank after the socket held its reads.
    init(
        run: @escaping @Sendable (Inbound) async -> Void, runAtOnce: @escaping RunAtOnce,
        resumeReading: @escaping @Sendable () -> Void
    ) {
        self.run = run
        self.runAtOnce = runAtOnce
        self.resumeReading = resumeReading
    }

    func push(_ input: Inbound) {
        if queue.claim() {
            if runAtOnce(input, { [self] in release() }) { return }
            Task {
                await self.run(input)
                if self.queue.release() { await self.runQueued() }
            }
        } else if queue.push(input) {
            Task { await self.runQueued() }
        }
    }

    /// Ends an input run outside the queue: what was pushed meanwhile runs next.
    private func release() {
        if queue.release() { Task { await self.runQueued() } }
    }

    /// Whether the socket is to hold its next read, because enough waits already. When it holds, the queue
    /// calls `resumeReading` once it has taken what waits.
    func holdsReads() -> Bool {
        guard queue.count >= Self.readAhead else { return false }
        holding.store(true, ordering: .sequentiallyConsistent)
        // The task may have taken the queue between the count and the flag: then it saw no flag, and the read goes on.
        guard queue.count >= Self.readAhead else {
            holding.store(false, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    private func runQueued() async {
        while let batch = queue.take() {
            if holding.exchange(false, ordering: .sequentiallyConsistent) { resumeReading() }
            for input in batch { await run(input) }
        }
    }
}

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
