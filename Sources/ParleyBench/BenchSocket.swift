import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A lean WebSocket connection for the load generator: a NIO channel with one handler and no task of its own, so
/// that tens of thousands of them fit in one process. It hands each text frame to `onText` on its event loop and
/// answers pings; it leaves JSON alone, so that the generator's cost per frame stays small beside the server's.
public final class BenchSocket: Sendable {
    public let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Opens `ws://host:port/path` from `localAddress` (an address of 127.0.0.0/8, so that many connections do not
    /// run one address pair out of ports), offering `protocols` in `Sec-WebSocket-Protocol`.
    public static func connect(
        host: String, port: Int, path: String = "/ws", protocols: String?, localAddress: String?,
        group: any EventLoopGroup, onText: @escaping @Sendable (ByteBuffer, _ answer: Answer) -> Void,
        onClose: @escaping @Sendable () -> Void = {}
    ) async throws -> BenchSocket {
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        if let localAddress { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0)) }
        let upgraded: EventLoopFuture<(any Channel)?> = try await bootstrap.connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOTypedWebSocketClientUpgrader<(any Channel)?>(maxFrameSize: 1 << 20) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(FrameHandler(onText: onText, onClose: onClose))
                        return channel
                    }
                }
                var headers = HTTPHeaders([("Host", "\(host):\(port)"), ("Content-Length", "0")])
                if let protocols { headers.add(name: "Sec-WebSocket-Protocol", value: protocols) }
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                let configuration = NIOTypedHTTPClientUpgradeConfiguration(
                    upgradeRequestHead: head, upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(nil) })
                // The server may send its first frame (Parley's `hello`) in the same read as the 101; NIO drops
                // such bytes unless told to forward them.
                var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
                pipeline.leftOverBytesStrategy = .forwardBytes
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
            }
        }
        guard let channel = try await upgraded.get() else {
            throw BenchError("the server refused the WebSocket upgrade on \(host):\(port)\(path)")
        }
        return BenchSocket(channel: channel)
    }

    /// Writes a text frame; `flush` false leaves it for the next flush, so that a burst leaves in one syscall.
    public func send(_ text: String, flush: Bool = true) {
        Answer(channel: channel).send(text, flush: flush)
    }

    /// A frame written back on the connection a frame came from, usable before `connect` has returned: a server
    /// may speak first, in the same read as its 101.
    public struct Answer: Sendable {
        let channel: any Channel

        public func send(_ text: String, flush: Bool = true) {
            let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text))
            if flush { channel.writeAndFlush(frame, promise: nil) } else { channel.write(frame, promise: nil) }
        }
    }

    public func flush() { channel.flush() }

    public func close() async { try? await channel.close() }
}

/// Text frames to a closure; pings answered; a close answered and the channel closed.
private final class FrameHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let onText: @Sendable (ByteBuffer, BenchSocket.Answer) -> Void
    let onClose: @Sendable () -> Void

    init(onText: @escaping @Sendable (ByteBuffer, BenchSocket.Answer) -> Void, onClose: @escaping @Sendable () -> Void) {
        self.onText = onText
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .continuation: onText(frame.unmaskedData, BenchSocket.Answer(channel: context.channel))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: ByteBuffer())
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in channel.close(promise: nil) }
        default: break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose()
        context.fireChannelInactive()
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
