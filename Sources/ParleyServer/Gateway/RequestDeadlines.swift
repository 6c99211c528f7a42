import NIOCore
import NIOHTTPTypes

/// A request's body deadline on an HTTP connection: from its head to its end, however slowly the bytes come, or
/// the connection is closed. (The first head's deadline is `FirstRequestHandler`'s; later heads and the idle
/// time between requests are `HTTPConnectionStateHandler`'s idle timeout's.) A client that stops sending in the
/// middle of a request is gone, and so is its connection.
final class RequestDeadlines: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let bodyTimeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(bodyTimeout: TimeAmount) {
        self.bodyTimeout = bodyTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: bodyTimeout) { context.close(promise: nil) }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client that stops sending part-way through a request is gone; a node that stops does not wait for a body
        // still coming.
        if case ChannelEvent.inputClosed = event, deadline != nil { return context.close(promise: nil) }
        if event is ChannelShouldQuiesceEvent, deadline != nil { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
