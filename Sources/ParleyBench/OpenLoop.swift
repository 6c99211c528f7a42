import Foundation
import NIOCore
import Synchronization

/// An open-loop load: frames leave on a fixed schedule whatever the server's pace, each stamped with the time it
/// was *meant* to leave, so a slow server shows as latency rather than as a lower send rate (no coordinated
/// omission).
///
/// The schedule runs on the timer of the first sender's event loop, which wakes when the next frame is due (NIO's
/// `timerfd`, to the microsecond) and sends everything due by then, so a frame leaves as close to its time as the
/// generator's thread allows, and under a high rate the frames due together go together. (A Swift task's sleep
/// overshoots by tenths of a millisecond, and every frame's latency would count the overshoot.)
struct OpenLoop {
    let peers: [BenchPeer]
    /// Frames per second over all peers, round robin.
    let rate: Double
    let duration: Duration

    /// Sends, and returns how many frames went out. `frame(peer, n, intended)` builds the n-th frame.
    func run(_ frame: @escaping @Sendable (_ peer: Int, _ n: Int, _ intended: UInt64) -> String) async -> Int {
        guard let loop = peers.lazy.compactMap(\.eventLoop).first else { return 0 }
        let total = max(1, Int(rate * duration.seconds))
        let interval = 1e9 / rate
        return await withCheckedContinuation { continuation in
            let schedule = Schedule(
                peers: peers, start: monotonicNanos(), interval: interval, total: total, frame: frame, loop: loop,
                done: { continuation.resume(returning: total) })
            loop.execute { schedule.fire() }
        }
    }

    /// The frames still to send. Unchecked: `next` is touched on `loop` alone.
    private final class Schedule: @unchecked Sendable {
        let peers: [BenchPeer]
        let start: UInt64
        let interval: Double
        let total: Int
        let frame: @Sendable (_ peer: Int, _ n: Int, _ intended: UInt64) -> String
        let loop: any EventLoop
        let done: @Sendable () -> Void
        /// The next frame to send; read and written on `loop` only.
        var next = 0

        init(
            peers: [BenchPeer], start: UInt64, interval: Double, total: Int,
            frame: @escaping @Sendable (_ peer: Int, _ n: Int, _ intended: UInt64) -> String, loop: any EventLoop,
            done: @escaping @Sendable () -> Void
        ) {
            self.peers = peers
            self.start = start
            self.interval = interval
            self.total = total
            self.frame = frame
            self.loop = loop
            self.done = done
        }

        func intended(_ n: Int) -> UInt64 { start + UInt64(Double(n) * interval) }

        /// Sends what is due, each peer's frames in one write, and waits for the next.
        func fire() {
            let now = monotonicNanos()
            var batches: [Int: [String]] = [:]
            while next < total, intended(next) <= now {
                let peer = next % peers.count
                batches[peer, default: []].append(frame(peer, next, intended(next)))
                next += 1
            }
            for (peer, frames) in batches { peers[peer].send(batch: frames) }
            guard next < total else { return done() }
            loop.scheduleTask(deadline: .uptimeNanoseconds(intended(next))) { self.fire() }
        }
    }
}

/// UUIDs for `clientId`s, cheap to make and never repeated in a run: a random prefix and a counter. (A repeated
/// one would be taken for a retry and acknowledged without a new message.)
final class ClientIds: Sendable {
    private let prefix = String(UInt32.random(in: 0...UInt32.max), radix: 16).leftPadded(8)
    private let counter = Atomic(0)

    func next() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)-0000-4000-8000-\(String(n, radix: 16).leftPadded(12))"
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// Waits until `condition` holds or `timeout` passes; returns whether it held.
func wait(upTo timeout: Duration, until condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
