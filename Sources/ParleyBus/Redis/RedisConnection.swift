import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

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

    /// Connects to the endpoint, over TLS for `rediss://`, and signs in (AUTH) and picks its database (SELECT)
    /// when it names them. `onPush` receives every reply that answers no request: pub/sub traffic. A refused sign-in
    /// or TLS handshake throws `RedisError.refused`: trying again will not help.
    static func connect(_ endpoint: RedisEndpoint, onPush: @escaping @Sendable (RESPValue) -> Void = { _ in }) async throws -> RedisConnection {
        let tls = try endpoint.tlsContext()
        let watcher = TLSWatcher()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // An address is checked against the certificate's IP addresses, a name against its names.
                        let name = endpoint.host.isIPAddress ? nil : endpoint.host
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name))
                        try channel.pipeline.syncOperations.addHandler(watcher)
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .get()
        let connection = RedisConnection(channel: channel)
        do {
            var greeting: [[String]] = []
            if let password = endpoint.password { greeting.append(["AUTH"] + (endpoint.user.map { [$0] } ?? []) + [password]) }
            if endpoint.database != 0 { greeting.append(["SELECT", "\(endpoint.database)"]) }
            // A PING either way, so that TLS that fails (the server's certificate, or the client's) fails here.
            greeting.append(["PING"])
            _ = try await connection.pipeline(greeting.map { $0.map { ByteBuffer(string: $0) } })
        } catch {
            await connection.close()
            if let failure = watcher.failure { throw RedisError.refused("TLS with \(endpoint) failed: \(failure)") }
            if let error = error as? RedisError { throw RedisError.refused("\(endpoint) refused to sign in: \(error.description)") }
            throw error
        }
        return connection
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
        answers(to: commands).flatMapThrowing { values in
            for case .error(let message) in values { throw RedisError(description: message) }
            return values
        }
    }

    /// The replies to commands as they come, error replies included.
    func answers(to commands: [[ByteBuffer]]) -> EventLoopFuture<[RESPValue]> {
        let replies = channel.eventLoop.makePromise(of: [RESPValue].self)
        write(RedisRequest(commands: commands, replies: replies)).whenFailure { replies.fail($0) }
        return replies.futureResult
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

    /// Calls `body` once the connection has closed, for whatever reason.
    func onClose(_ body: @escaping @Sendable () -> Void) {
        channel.closeFuture.whenComplete { _ in body() }
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

extension String {
    /// An IPv4 or IPv6 address rather than a name.
    var isIPAddress: Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}

/// Keeps the error TLS failed with, if it did: a refused certificate closes the connection, and the commands waiting
/// on it fail only with the close.
final class TLSWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let error = Mutex<(any Error)?>(nil)

    var failure: (any Error)? { error.withLock { $0 } }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError { self.error.withLock { $0 = $0 ?? error } }
        context.fireErrorCaught(error)
    }
}
