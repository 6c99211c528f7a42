import CHiredis
import NIOCore

/// One command on its way to Redis, with the promise of its reply. Subscriber connections send SUBSCRIBE and
/// UNSUBSCRIBE without a promise: their confirmations arrive as pushes, like the messages.
struct RedisRequest {
    var arguments: [ByteBuffer]
    var reply: EventLoopPromise<RESPValue>?
}

/// Formats commands with hiredis's formatter and parses replies with hiredis's reader, on the channel's event
/// loop. Replies answer requests in order (Redis answers a pipeline in order); a reply no request waits for is a
/// push (a pub/sub message).
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private let reader: UnsafeMutablePointer<redisReader>
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()
    private let onPush: (RESPValue) -> Void

    init(onPush: @escaping (RESPValue) -> Void) {
        self.reader = redisReaderCreate()
        self.onPush = onPush
    }

    deinit {
        redisReaderFree(reader)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard let bytes = Self.format(request.arguments, allocator: context.channel.allocator) else {
            let error = RedisError(description: "hiredis could not format the command")
            request.reply?.fail(error)
            promise?.fail(error)
            return
        }
        if let reply = request.reply { waiting.append(reply) }
        context.write(wrapOutboundOut(bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        guard fed == REDIS_OK else { return fail(context, "hiredis could not read the reply") }
        while true {
            var reply: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &reply) == REDIS_OK else { return fail(context, "malformed reply from Redis") }
            guard let reply else { return }
            let value = RESPValue(reply.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(reply)
            if let promise = waiting.popFirst() {
                promise.succeed(value)
            } else {
                onPush(value)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = RedisError(description: "the connection to Redis closed")
        while let promise = waiting.popFirst() { promise.fail(error) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        let error = RedisError(description: reason)
        while let promise = waiting.popFirst() { promise.fail(error) }
        context.close(promise: nil)
    }

    /// RESP for a command, through `redisFormatCommandArgv`, which is binary-safe with explicit lengths.
    static func format(_ arguments: [ByteBuffer], allocator: ByteBufferAllocator) -> ByteBuffer? {
        // One contiguous copy of the arguments, plus a trailing byte so that it is never empty.
        var joined: [UInt8] = []
        joined.reserveCapacity(arguments.reduce(1) { $0 + $1.readableBytes })
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(joined.count)
            joined.append(contentsOf: argument.readableBytesView)
        }
        joined.append(0)
        let lengths = arguments.map(\.readableBytes)
        var target: UnsafeMutablePointer<CChar>?
        let length = joined.withUnsafeBytes { base in
            var argv: [UnsafePointer<CChar>?] = offsets.map { (base.baseAddress! + $0).assumingMemoryBound(to: CChar.self) }
            return redisFormatCommandArgv(&target, Int32(arguments.count), &argv, lengths)
        }
        guard length > 0, let target else { return nil }
        defer { redisFreeCommand(target) }
        var buffer = allocator.buffer(capacity: Int(length))
        buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
        return buffer
    }
}
