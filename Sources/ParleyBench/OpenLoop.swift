import Foundation
import NIOCore
import Synchronization

/// An open-loop load: frames leave on a fixed schedule whatever the server's pace, each stamped with the time it
/// was *meant* to leave, so a slow server shows as latency rather than as a lower send rate (no coordinated
/// omission).
struct OpenLoop {
    /// How often the loop wakes to send what has come due. A frame leaves up to a tick after it was due, and its
    /// latency counts that wait: 0.5 ms rather than 1 ms took 0.3 ms off relay's p50 and 0.3–0.7 ms off its p99 on
    /// the same servers, at a little more server CPU per signal (less batching).
    static let tick = Duration.microseconds(500)

    let peers: [BenchPeer]
    /// Frames per second over all peers, round robin.
    let rate: Double
    let duration: Duration

    /// Sends, and returns how many frames went out. `frame(peer, n, intended)` builds the n-th frame.
    func run(_ frame: (_ peer: Int, _ n: Int, _ intended: UInt64) -> String) async -> Int {
        let start = monotonicNanos()
        let total = max(1, Int(rate * duration.seconds))
        let interval = 1e9 / rate
        var next = 0
        while next < total {
            let due = min(total, Int(Double(monotonicNanos() - start) / interval) + 1)
            var batches: [Int: [String]] = [:]
            while next < due {
                let peer = next % peers.count
                batches[peer, default: []].append(frame(peer, next, start + UInt64(Double(next) * interval)))
                next += 1
            }
            for (peer, frames) in batches { peers[peer].send(batch: frames) }
            try? await Task.sleep(for: Self.tick)
        }
        return total
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
