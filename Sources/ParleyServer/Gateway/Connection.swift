import Foundation
import Logging
import NIOCore
import ParleyCore
import ParleyStore
import Synchronization

/// One socket's outgoing side. Everything it sends passes through one queue, written by one task in order:
/// replies, replays and live events. That order is what makes replay safe: a live event that arrives while a
/// room replays waits behind the replay, and is then dropped if the replay already held it.
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

    let id: String
    let userId: String
    private let store: any Store
    private let queue = ItemQueue<Item>()
    private let queued = Atomic<Int>(0)
    private let maxQueued: Int
    private let overflowed = Atomic<Bool>(false)
    /// Fires once, when the queue overflows. The writer closes the socket with 4008 at its next frame.
    let overflow: AsyncStream<Void>
    private let overflowSignal: AsyncStream<Void>.Continuation
    /// When the access token the socket runs on expires; `auth` frames move it.
    let tokenExpiry: Mutex<Date>

    init(id: String, userId: String, tokenExpiry: Date, store: any Store, maxQueued: Int = 1024) {
        self.id = id
        self.userId = userId
        self.store = store
        self.maxQueued = maxQueued
        self.tokenExpiry = Mutex(tokenExpiry)
        (overflow, overflowSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues an item. A consumer too slow to keep the queue under its bound is cut off rather than let grow.
    func enqueue(_ item: Item) {
        if queued.add(1, ordering: .relaxed).newValue > maxQueued {
            if !overflowed.exchange(true, ordering: .relaxed) { overflowSignal.yield() }
            return
        }
        queue.push(item)
    }

    func finish() {
        queue.finish()
        overflowSignal.finish()
    }

    /// Writes the queue to the socket until the queue finishes, the socket fails, or a close item comes. What
    /// queued up meanwhile is written as one batch, with one flush.
    func write(to sink: some FrameSink) async throws {
        var cursors: [String: Int64] = [:]
        var frames: [ByteBuffer] = []
        while let batch = await queue.next() {
            queued.subtract(batch.count, ordering: .relaxed)
            for item in batch {
                if overflowed.load(ordering: .relaxed) {
                    // The rest of the queue is dropped; the client resumes with `since` and loses nothing.
                    try await sink.write(frames)
                    try await sink.close(code: CloseCode.slowConsumer, reason: "slow consumer: resume with since")
                    return
                }
                switch item {
                case .frame(let frame):
                    frames.append(frame)
                case .close(let code, let reason):
                    try await sink.write(frames)
                    try await sink.close(code: code, reason: reason)
                    return
                case .subscribe(let room, let since, let reply):
                    cursors[room] = try await replay(room, since: since, into: &frames)
                    if let reply { frames.append(reply) }
                case .unsubscribe(let room):
                    cursors[room] = nil
                case .resync:
                    for (room, cursor) in cursors {
                        cursors[room] = try await catchUp(room, after: cursor, before: nil, into: &frames)
                    }
                case .event(let header, let payload):
                    if header.type == "session.closed" {
                        try await sink.write(frames)
                        try await sink.close(code: CloseCode.signedOut, reason: "signed out")
                        return
                    }
                    guard let room = header.room, header.isRoomEvent else {
                        frames.append(payload)
                        continue
                    }
                    guard let cursor = cursors[room] else { continue }
                    if header.type == "member.removed", header.user == userId {
                        // Removed from the room: this is the last the connection hears of it.
                        cursors[room] = nil
                    }
                    if header.isMessageCreated, let seq = header.seq {
                        guard seq > cursor else { continue }
                        // A jump in seq: an event was lost or is late. Deliver what lies between from the store first.
                        if seq > cursor + 1 { _ = try await catchUp(room, after: cursor, before: seq, into: &frames) }
                        cursors[room] = seq
                    }
                    frames.append(payload)
                }
            }
            try await sink.write(frames)
            frames.removeAll(keepingCapacity: true)
        }
    }

    /// Replays a room after `since` and returns the last seq sent. A replay longer than `replayLimit` sends only
    /// the newest messages and says `truncated`; the client pages what lies before them over REST.
    private func replay(_ room: String, since: Int64, into frames: inout [ByteBuffer]) async throws -> Int64? {
        let limit = Self.replayLimit
        guard var page = try? await store.messages(room: room, viewer: userId, page: Page(after: since, limit: limit + 1))
        else { return nil }
        let truncated = page.count > limit
        if truncated {
            page = (try? await store.messages(room: room, viewer: userId, page: Page(limit: limit))) ?? []
        }
        for message in page {
            frames.append(try Frames.encode(Event.messageCreated(message)))
        }
        frames.append(try Frames.encode(Frames.ReplayDone(room: room, truncated: truncated)))
        return page.last?.seq ?? since
    }

    /// Adds a room's messages after `after` and before `before` (or up to now), read in pages, and returns the
    /// last seq added. A room the user has left meanwhile adds nothing.
    private func catchUp(_ room: String, after: Int64, before: Int64?, into frames: inout [ByteBuffer]) async throws -> Int64 {
        var cursor = after
        while true {
            guard let page = try? await store.messages(room: room, viewer: userId, page: Page(before: before, after: cursor, limit: 200)),
                !page.isEmpty
            else { return cursor }
            for message in page {
                frames.append(try Frames.encode(Event.messageCreated(message)))
            }
            cursor = page.last!.seq
            if page.count < 200 { return cursor }
        }
    }
}

extension EventHeader {
    /// Events of a room channel, which reach a connection only while it subscribes to the room.
    var isRoomEvent: Bool {
        ["message.created", "message.deleted", "typing", "read", "member.added", "member.removed", "presence"].contains(type)
    }
}
