import NIOCore
import ParleyCore
import ParleyStore

/// A connection's reads of the store: the replay of a room it subscribes to, and the catch-up of a gap, written to
/// the socket as they add up.
extension Connection {
    /// Replays a room after `since` and returns the last seq sent. A replay longer than `replayLimit` sends only
    /// the newest messages and says `truncated`; the client pages what lies before them over REST. Seqs have no
    /// gaps, so a first page that is full is the only case that needs the newest seq to tell how long the replay is.
    func replay(_ room: String, since: Int64, into frames: inout Outgoing) async throws -> Int64? {
        guard let first = try? await store.messages(room: room, viewer: userId, page: Page(after: since, limit: Self.pageSize))
        else { return nil }
        var (start, truncated) = (since, false)
        if first.count == Self.pageSize, let last = try? await store.messages(room: room, viewer: userId, page: Page(limit: 1)).last?.seq {
            truncated = last - since > Int64(Self.replayLimit)
            if truncated { start = last - Int64(Self.replayLimit) }
        }
        var cursor = start
        if !truncated {
            for message in first { try await append(try Frames.encode(Event.messageCreated(message)), to: &frames) }
            cursor = first.last?.seq ?? since
        }
        if truncated || first.count == Self.pageSize { cursor = try await catchUp(room, after: cursor, before: nil, into: &frames) }
        try await append(try Frames.encode(.replayDone(room: room, truncated: truncated)), to: &frames)
        return cursor
    }

    /// Adds a room's messages after `after` and before `before` (or up to now), read in pages and written as
    /// they add up, and returns the last seq added. A room the user has left meanwhile adds nothing.
    func catchUp(_ room: String, after: Int64, before: Int64?, into frames: inout Outgoing) async throws -> Int64 {
        var cursor = after
        while true {
            guard
                let page = try? await store.messages(
                    room: room, viewer: userId, page: Page(before: before, after: cursor, limit: Self.pageSize)),
                !page.isEmpty
            else { return cursor }
            for message in page {
                try await append(try Frames.encode(Event.messageCreated(message)), to: &frames)
            }
            cursor = page.last!.seq
            if page.count < Self.pageSize { return cursor }
        }
    }
}

/// The frames the writer holds for its next write, and their size.
struct Outgoing {
    private(set) var frames: [ByteBuffer] = []
    private(set) var bytes = 0

    mutating func add(_ frame: ByteBuffer) {
        frames.append(frame)
        bytes += frame.readableBytes
    }

    /// Writes the frames, and holds none after.
    mutating func write(to sink: any FrameSink) async throws {
        try await sink.write(frames)
        frames.removeAll(keepingCapacity: true)
        bytes = 0
    }
}
