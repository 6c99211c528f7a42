import Foundation
import Logging
import NIOCore
import NIOWebSocket
import ParleyCore
import ParleyStore
import Synchronization

/// One socket's outgoing side. Everything it sends passes through one queue, written in order by a task that lives
/// while the queue holds anything: replies, replays and live events. That order is what makes replay safe: a live
/// event that arrives while a room replays waits behind the replay, and is then dropped if the replay already held
/// it.
///
/// A live event that finds the writer idle, with nothing queued, skips the queue: the hub writes it on the socket's
/// event loop (`deliver`), so that fan-out costs no task wake-up per socket. So does a reply (`enqueue`). Gaps,
/// closes and a socket that does not take writes go through the writer.
final class Connection: Sendable {
    /// What the writer does next.
    enum Item: Sendable {
        /// A frame as it is.
        case frame(ByteBuffer)
        /// A bus event; `header` was decoded once by the hub.
        case event(EventHeader, ByteBuffer)
        /// Start delivering a room: replay from the store after `since`, then live. `reply` follows `replay.done`.
        case subscribe(room: String, since: Int64, reply: ByteBuffer?)
        case unsubscribe(room: String)
        /// The bus may have lost events: catch every room up from the store.
        case resync
        case close(code: UInt16, reason: String)
    }

    /// Longest replay sent over the socket; a longer one says `truncated`, and the client pages the rest.
    static let replayLimit = 500
    /// Messages read from the store at a time, for a replay or a catch-up.
    static let pageSize = 50
    /// The writer hands frames to the socket once this many bytes of them wait, and waits for them to go before it
    /// reads more: a long replay is written as the socket drains, never built in memory whole.
    static let writeChunk = 64 * 1024

    let id: String
    let userId: String
    /// The session the socket's token belongs to: signing out of it closes the socket.
    let session: String
    /// The socket, for live events written on it directly; nil where the writer's sink is not a socket (tests).
    let channel: (any NIOCore.Channel)?
    /// Where a live event goes as a whole WebSocket frame, encoded once for all its sockets: the context of the
    /// socket's frame encoder, whose write passes the frame under the encoder. Set by the socket's handler while it
    /// is on the pipeline, and used, on the socket's event loop only; without it, a live event is written as a frame
    /// for the pipeline to encode.
    nonisolated(unsafe) var encodedOutput: ChannelHandlerContext?
    let store: any Store
    private let sink: any FrameSink
    private let queue = ItemQueue<Item>()
    /// The last seq delivered per subscribed room. The writer moves them while it works, a direct delivery only
    /// while the writer is idle.
    private let cursors = Mutex<[String: Int64]>([:])
    /// Bytes queued for the writer, held under `maxQueuedBytes`.
    private let queuedBytes = Atomic<Int>(0)
    private let maxQueuedBytes: Int
    /// Set once, when the queue overflows. The writer closes the socket with 4008 at its next frame.
    private let overflowed = Atomic<Bool>(false)
    /// When the access token the socket runs on expires; `auth` frames move it.
    let tokenExpiry: Mutex<Date>
    /// The backstop for a reader that stopped reading, on the socket's event loop. (The token's expiry is the
    /// socket handler's.)
    private let overflowTimer = Mutex<Scheduled<Void>?>(nil)

    /// How long a socket whose queue overflowed may go without the writer getting through, before it is cut off.
    static let overflowGrace = TimeAmount.seconds(30)

    /// A connection whose writer writes to `sink`, and whose live events skip the queue onto `channel`.
    init(
        id: String, userId: String, session: String = "", tokenExpiry: Date, store: any Store, sink: any FrameSink,
        channel: (any NIOCore.Channel)? = nil,
        maxQueuedBytes: Int = ClientLimits().socketBufferBytes
    ) {
        self.id = id
        self.userId = userId
        self.session = session
        self.channel = channel
        self.store = store
        self.sink = sink
        self.maxQueuedBytes = maxQueuedBytes
        self.tokenExpiry = Mutex(tokenExpiry)
    }

    /// Queues an item. A consumer too slow to keep the queue under its byte budget is cut off rather than let grow.
    ///
    /// A frame that finds the writer idle and the socket writable skips the queue: it is written and flushed on
    /// the socket's event loop, with the queue claimed until then, so that anything after it, a live event too,
    /// waits its turn. A reply then costs no task and no wait for the write.
    func enqueue(_ item: Item) {
        if case .frame(let frame) = item, let channel, channel.isWritable, queue.claim() {
            channel.eventLoop.execute {
                channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
                if self.queue.release() { Task { await self.writeQueued() } }
            }
            return
        }
        if queuedBytes.add(item.bytes, ordering: .relaxed).newValue > maxQueuedBytes {
            // The writer closes the socket with 4008 as soon as the reader takes anything more; a reader that takes
            // nothing is cut off after the grace period.
            if !overflowed.exchange(true, ordering: .relaxed) {
                if let channel {
                    let timer = channel.eventLoop.scheduleTask(in: Self.overflowGrace) { channel.close(promise: nil) }
                    overflowTimer.withLock { $0 = timer }
                }
            }
            return
        }
        if queue.push(item) { Task { await self.writeQueued() } }
    }

    /// Queues an error frame, in reply to the client frame `re` when it had an id.
    func fail(re: String?, _ error: ParleyError) {
        guard let frame = Frames.failure(re: re, error) else { return }
        enqueue(.frame(frame))
    }

    /// Delivers a bus event, on `channel`'s event loop: written on the socket without a flush when the writer is
    /// idle, else queued. `frame` is `payload` as a whole text frame (`ByteBuffer.webSocketText`). Returns true when
    /// it wrote, and the caller is to flush the socket (`flushDelivered`).
    func deliver(_ header: EventHeader, _ payload: ByteBuffer, frame: ByteBuffer) -> Bool {
        guard let channel, channel.isWritable,
            case let verdict?? = queue.whenIdle({ cursors.withLock { route(header, cursors: &$0, direct: true) } })
        else {
            enqueue(.event(header, payload))
            return false
        }
        guard case .deliver = verdict else { return false }
        if let encodedOutput {
            encodedOutput.write(NIOAny(frame), promise: nil)
        } else {
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: payload), promise: nil)
        }
        return true
    }

    /// Flushes what `deliver` wrote, on the socket's event loop: from the frame encoder's context when there is one,
    /// as the frames went, so that the flush skips the handlers above it rather than walk the whole pipeline for
    /// every socket of a large room.
    func flushDelivered() {
        if let encodedOutput { encodedOutput.flush() } else { channel?.flush() }
    }

    /// Whether no writer runs and nothing is queued, so that a live event may skip the queue.
    var isIdle: Bool { queue.whenIdle { true } ?? false }

    /// What becomes of a live event.
    private enum Verdict {
        case deliver
        case drop
        /// Deliver after the messages between `after` and `before`, read from the store.
        case fillGap(room: String, after: Int64, before: Int64)
        case signOut
    }

    /// Routes a live event by the room cursors, moving them. With `direct`, a gap or a sign-out, which the writer
    /// must handle, returns nil and moves nothing.
    private func route(_ header: EventHeader, cursors: inout [String: Int64], direct: Bool) -> Verdict? {
        if header.kind == .sessionClosed {
            guard header.session == nil || header.session == session else { return .drop }
            return direct ? nil : .signOut
        }
        guard let room = header.room, header.kind?.isRoomEvent == true else { return .deliver }
        guard let cursor = cursors[room] else { return .drop }
        guard header.kind == .messageCreated, let seq = header.seq else {
            // Removed from the room: this is the last the connection hears of it.
            if header.kind == .memberRemoved, header.user == userId { cursors[room] = nil }
            return .deliver
        }
        guard seq > cursor else { return .drop }
        // A jump in seq: an event was lost or is late. What lies between is delivered from the store first.
        if seq > cursor + 1 && direct { return nil }
        cursors[room] = seq
        return seq > cursor + 1 ? .fillGap(room: room, after: cursor, before: seq) : .deliver
    }

    func finish() {
        queue.finish()
        overflowTimer.withLock { $0 }?.cancel()
    }

    /// Writes what is queued until the queue is empty, a close item comes, or the socket fails. What queued up
    /// meanwhile is written as one batch, with one flush.
    private func writeQueued() async {
        do {
            try await writeBatches()
        } catch {
            // The socket is gone or failing: nothing more is written, and the socket's handler cleans up.
            queue.finish()
            channel?.close(promise: nil)
        }
    }

    private func writeBatches() async throws {
        var frames = Outgoing()
        while let batch = queue.take() {
            queuedBytes.subtract(batch.reduce(0) { $0 + $1.bytes }, ordering: .relaxed)
            for item in batch {
                if overflowed.load(ordering: .relaxed) {
                    // The rest of the queue is dropped; the client resumes with `since` and loses nothing.
                    return try await close(after: frames, code: CloseCode.slowConsumer, reason: "slow consumer: resume with since")
                }
                switch item {
                case .frame(let frame):
                    try await append(frame, to: &frames)
                case .close(let code, let reason):
                    return try await close(after: frames, code: code, reason: reason)
                case .subscribe(let room, let since, let reply):
                    let cursor = try await replay(room, since: since, into: &frames)
                    cursors.withLock { $0[room] = cursor }
                    if let reply { frames.add(reply) }
                case .unsubscribe(let room):
                    cursors.withLock { $0[room] = nil }
                case .resync:
                    for (room, cursor) in cursors.withLock({ $0 }) {
                        let caughtUp = try await catchUp(room, after: cursor, before: nil, into: &frames)
                        cursors.withLock { $0[room] = caughtUp }
                    }
                case .event(let header, let payload):
                    switch cursors.withLock({ route(header, cursors: &$0, direct: false) }) {
                    case .deliver?:
                        try await append(payload, to: &frames)
                    case .drop?, nil:
                        continue
                    case .fillGap(let room, let after, let before)?:
                        _ = try await catchUp(room, after: after, before: before, into: &frames)
                        try await append(payload, to: &frames)
                    case .signOut?:
                        return try await close(after: frames, code: CloseCode.signedOut, reason: "signed out")
                    }
                }
            }
            try await frames.write(to: sink)
        }
    }

    /// Writes `frames`, then starts the close handshake; the queue takes nothing more.
    private func close(after frames: Outgoing, code: UInt16, reason: String) async throws {
        var frames = frames
        queue.finish()
        try await frames.write(to: sink)
        try await sink.close(code: code, reason: reason)
    }

    /// Adds `frame` to what the writer holds, and hands them all to the socket once they reach `writeChunk`.
    func append(_ frame: ByteBuffer, to frames: inout Outgoing) async throws {
        frames.add(frame)
        if frames.bytes >= Self.writeChunk { try await frames.write(to: sink) }
    }
}

extension Connection.Item {
    /// What the item holds against the socket's byte budget: its frame, or a little for bookkeeping.
    var bytes: Int {
        switch self {
        case .frame(let frame): frame.readableBytes
        case .event(_, let payload): payload.readableBytes
        default: 64
        }
    }
}
