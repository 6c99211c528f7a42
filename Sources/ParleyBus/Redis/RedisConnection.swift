import NIOCore
import NIOPosix

/// One TCP connection to Redis, speaking RESP through `RedisChannelHandler`. Commands sent concurrently are
/// pipelined: each is written at once, and the replies come back in order.
final class RedisConnection: Sendable {
    private let channel: any Channel
    /// Set while a flush waits on the channel's event loop: the commands written there in the same turn of the
    /// loop (a batch of sends committed together publishes one event each) share it, one `write` call.
    private let flushQueued: NIOLoopBoundBox<Bool>

    private init(channel: any Channel) {
        self.channel = channel
        flushQueued = .makeBoxSendingValue(false, eventLoop: channel.eventLoop)
    }

    /// Connects to `host:port`. `onPush` receives every reply that answers no request: pub/sub traffic.
    static func connect(
        host: String, port: Int, onPush: @escaping @Sendable (RESPValue) -> Void = { _ in }
    ) async throws -> RedisConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                }
            }
            .connect(host: host, port: port)
            .get()
        return RedisConnection(channel: channel)
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends a command and returns its reply; an error reply throws.
    @discardableResult
    func send(_ arguments: [ByteBuffer]) async throws -> RESPValue {
        try await pipeline([arguments])[0]
    }

    func send(_ arguments: String...) async throws -> RESPValue {
        try await send(arguments.map { ByteBuffer(string: $0) })
    }

    /// Sends commands in one write, and returns their replies in order, after one round trip; an error reply
    /// throws. Redis runs them in order, with nothing from this connection in between.
    func pipeline(_ commands: [[ByteBuffer]]) async throws -> [RESPValue] {
        try await replies(to: commands).get()
    }

    /// `pipeline`'s replies as a future, completed on the connection's event loop.
    func replies(to commands: [[ByteBuffer]]) -> EventLoopFuture<[RESPValue]> {
        let replies = channel.eventLoop.makePromise(of: [RESPValue].self)
        write(RedisRequest(commands: commands, replies: replies)).whenFailure { replies.fail($0) }
        return replies.futureResult.flatMapThrowing { values in
            for case .error(let message) in values { throw RedisError(description: message) }
            return values
        }
    }

    /// Writes `request`; on the channel's event loop, with one flush for everything written in this turn of the loop,
    /// queued behind what the loop has still to run.
    private func write(_ request: RedisRequest) -> EventLoopFuture<Void> {
        guard channel.eventLoop.inEventLoop else { return channel.writeAndFlush(request) }
        let written = channel.write(request)
        if !flushQueued.value {
            flushQueued.value = true
            channel.eventLoop.execute { [self] in
                flushQueued.value = false
                channel.flush()
            }
        }
        return written
    }

    /// Writes a command whose replies arrive as pushes (SUBSCRIBE, UNSUBSCRIBE).
    func post(_ arguments: [String]) async throws {
        try await channel.writeAndFlush(RedisRequest(commands: [arguments.map { ByteBuffer(string: $0) }], replies: nil))
    }

    /// Completes when the connection closes, for whatever reason.
    func closed() async {
        try? await channel.closeFuture.get()
    }

    func close() async {
        try? await channel.close()
    }

    /// Starts closing without waiting, from anywhere, including a cancellation handler.
    func closeNow() {
        channel.close(promise: nil)
    }
}
