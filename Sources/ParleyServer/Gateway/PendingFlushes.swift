import NIOCore

/// One event loop's sockets written to and not flushed yet, in two lists: those of small fan-outs, to flush as soon
/// as the loop's queued deliveries are done, and those of large ones. A large fan-out's flush waits until `window`
/// has passed since the loop's last one, so that from about one large event per window on, two or more events share
/// each socket's syscall. Below that rate nothing waits, and a reply, a signal or a small room's event never does.
struct PendingFlushes<Socket> {
    /// The fewest sockets on one loop an event must be written to for its flush to wait.
    static var largeFanOut: Int { 64 }

    enum Flush: Equatable {
        /// A flush that will take these sockets is queued already.
        case queued
        /// Queue a flush behind the loop's deliveries.
        case now
        /// Schedule a flush for this time.
        case at(NIODeadline)
    }

    let window: TimeAmount
    private var small: [Socket] = []
    private var large: [Socket] = []
    private var largeQueued = false
    private var lastLargeFlush: NIODeadline?

    init(window: TimeAmount) {
        self.window = window
    }

    /// Whether a fan-out's flush goes on the held list: a large one's, while there is a window.
    private func holds(large: Bool) -> Bool { large && window > .zero }

    /// Adds sockets written to, and says what flushes them.
    mutating func add(_ sockets: [Socket], large: Bool, now: NIODeadline) -> Flush {
        guard holds(large: large) else {
            defer { small += sockets }
            return small.isEmpty ? .now : .queued
        }
        self.large += sockets
        guard !largeQueued else { return .queued }
        largeQueued = true
        guard let last = lastLargeFlush, last + window > now else { return .now }
        return .at(last + window)
    }

    /// Takes the sockets that a flush queued by `add` is for.
    mutating func take(large: Bool, now: NIODeadline) -> [Socket] {
        guard holds(large: large) else {
            defer { small = [] }
            return small
        }
        largeQueued = false
        lastLargeFlush = now
        defer { self.large = [] }
        return self.large
    }
}
