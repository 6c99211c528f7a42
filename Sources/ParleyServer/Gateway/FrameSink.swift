import NIOCore
import NIOWebSocket

/// Where a connection's frames go: written in order, each batch with one flush.
protocol FrameSink: Sendable {
    /// Writes text frames in order, flushes once, and returns when they are on their way to the socket.
    func write(_ frames: [ByteBuffer]) async throws
    /// Sends a close frame; the socket's handler ends the handshake (`SocketHandler`).
    func close(code: UInt16, reason: String) async throws
}

/// The socket itself: frames are written on the channel, whose pipeline encodes them.
struct SocketFrameSink: FrameSink {
    let channel: any NIOCore.Channel

    func write(_ frames: [ByteBuffer]) async throws {
        guard !frames.isEmpty else { return }
        let channel = channel
        // Waiting for the last write keeps one batch in flight: a slow reader slows its writer, and the queue
        // behind it grows until it overflows.
        try await channel.eventLoop.flatSubmit {
            let written = channel.eventLoop.makePromise(of: Void.self)
            for (index, frame) in frames.enumerated() {
                channel.write(
                    WebSocketFrame(fin: true, opcode: .text, data: frame), promise: index == frames.count - 1 ? written : nil)
            }
            channel.flush()
            return written.futureResult
        }.get()
    }

    func close(code: UInt16, reason: String) async throws {
        try await channel.writeAndFlush(WebSocketFrame.close(code: code, reason: reason, allocator: channel.allocator))
    }
}

extension WebSocketFrame {
    /// A close frame with a status code and a reason, cut to the 123 bytes a control frame has room for.
    static func close(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> WebSocketFrame {
        var data = allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeBytes(reason.utf8.prefix(123))
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }
}

extension ByteBuffer {
    /// `payload` as one unmasked, final text frame (RFC 6455, 5.2), header and all, as a server sends it: encoded
    /// once for every socket a live event goes to, instead of by each socket's frame encoder.
    static func webSocketText(_ payload: ByteBuffer) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.reserveCapacity(10 + payload.readableBytes)
        frame.writeInteger(UInt8(0x81))  // FIN and the text opcode
        switch payload.readableBytes {
        case ..<126: frame.writeInteger(UInt8(payload.readableBytes))
        case ...Int(UInt16.max):
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(payload.readableBytes))
        default:
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(payload.readableBytes))
        }
        frame.writeImmutableBuffer(payload)
        return frame
    }
}
