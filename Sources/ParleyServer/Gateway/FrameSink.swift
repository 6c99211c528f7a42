import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// Where a connection's frames go: written in order, each batch with one flush.
protocol FrameSink: Sendable {
    /// Writes text frames in order, flushes once, and returns when they are on their way to the socket.
    func write(_ frames: [ByteBuffer]) async throws
    func close(code: UInt16, reason: String) async throws
}

/// The socket itself. hummingbird-websocket's writer flushes every frame, so data frames are written on the
/// channel directly: the async channel's handler passes writes through to the frame encoder, and the channel is the
/// one the upgrade happened on. Control frames (pings, the close handshake) stay with the library.
struct ChannelFrameSink: FrameSink {
    let channel: any NIOCore.Channel
    let outbound: WebSocketOutboundWriter

    func write(_ frames: [ByteBuffer]) async throws {
        guard !frames.isEmpty else { return }
        let channel = channel
        // Waiting for the last write keeps one batch in flight: a slow reader slows its writer, and the queue
        // behind it grows until it overflows.
        try await channel.eventLoop.flatSubmit {
            let written = channel.eventLoop.makePromise(of: Void.self)
            for (index, frame) in frames.enumerated() {
                channel.write(
                    NIOAny(WebSocketFrame(fin: true, opcode: .text, data: frame)), promise: index == frames.count - 1 ? written : nil)
            }
            channel.flush()
            return written.futureResult
        }.get()
    }

    func close(code: UInt16, reason: String) async throws {
        try await outbound.close(.unknown(code), reason: reason)
    }
}
