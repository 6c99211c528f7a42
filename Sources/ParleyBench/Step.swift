import Foundation

/// One rate held for a while: what went out, what came back and how late, and what it cost the server.
public struct Step: Sendable, Codable {
    /// Frames sent per second, as scheduled.
    public let rate: Double
    public let sent: Int
    /// Stamped frames expected back (deliveries or acknowledgements), and those that came.
    public let expected: Int
    public let received: Int
    public let errors: Int
    public let seconds: Double
    /// Server CPU (user + system) over the step and its drain.
    public let cpuSeconds: Double
    /// The same for the processes around the server that the step keeps busy, by name (`postgres`, `redis`,
    /// `haproxy`, `generator`), where the scenario measures them.
    public let otherCPUSeconds: [String: Double]
    public let p50: Double
    public let p99: Double
    public let p999: Double
    public let max: Double

    /// Stamped frames per second of the step.
    public var perSecond: Double { Double(received) / seconds }
    public var perCPUSecond: Double { cpuSeconds > 0 ? Double(received) / cpuSeconds : 0 }
    /// Server CPU per stamped frame, in microseconds.
    public var cpuMicros: Double { micros(cpuSeconds) }

    /// The server's CPU and that of the processes around it, together.
    public var allCPUSeconds: Double { cpuSeconds + otherCPUSeconds.values.reduce(0, +) }

    /// CPU seconds per stamped frame, in microseconds.
    func micros(_ seconds: Double) -> Double { received > 0 ? seconds * 1e6 / Double(received) : 0 }
    public var complete: Bool { received >= expected && errors == 0 }

    func meets(p99 limit: Double) -> Bool { complete && p99 <= limit }

    var line: String {
        String(
            format: "%9.0f/s sent, %10.0f/s back (%d/%d), p50 %.2f ms, p99 %.2f ms, max %.1f ms, %.1f µs server CPU each%@",
            rate, perSecond, received, expected, p50, p99, max, cpuMicros, errors > 0 ? ", \(errors) errors" : "")
    }
}

/// Holds each rate for `duration`, counting what `receivers` got back into `latencies`.
struct StepRunner {
    let senders: [BenchPeer]
    let receivers: [BenchPeer]
    let latencies: Latencies
    let meter: ProcessMeter
    let duration: Duration
    /// Stamped frames each sent frame brings back.
    let fanout: Int
    /// The processes around the server whose CPU each step gives too (`Step.otherCPUSeconds`).
    var others: [String: ProcessMeter] = [:]

    func run(rate: Double, frame: @escaping @Sendable (_ peer: Int, _ n: Int, _ intended: UInt64) -> String) async -> Step {
        await settle()
        latencies.reset()
        let receivedBefore = receivers.reduce(0) { $0 + $1.received }
        let errorsBefore = (senders + receivers).reduce(0) { $0 + $1.errors }
        let cpuBefore = meter.cpuSeconds()
        let othersBefore = others.mapValues { $0.cpuSeconds() }
        let sent = await OpenLoop(peers: senders, rate: rate, duration: duration).run(frame)
        let expected = sent * fanout
        func received() -> Int { receivers.reduce(0) { $0 + $1.received } - receivedBefore }
        // What is still in flight gets a few seconds to land; past that it counts as missing.
        _ = await wait(upTo: .seconds(5)) { received() >= expected }
        let step = Step(
            rate: rate, sent: sent, expected: expected, received: received(),
            errors: (senders + receivers).reduce(0) { $0 + $1.errors } - errorsBefore, seconds: duration.seconds,
            cpuSeconds: meter.cpuSeconds() - cpuBefore,
            otherCPUSeconds: others.mapValues { $0.cpuSeconds() }.merging(othersBefore) { after, before in after - before },
            p50: latencies.milliseconds(at: 50), p99: latencies.milliseconds(at: 99),
            p999: latencies.milliseconds(at: 99.9), max: latencies.maxMilliseconds)
        say("    " + step.line)
        return step
    }

    /// Waits until nothing has arrived for half a second (for at most 30 s), so that the stragglers of an overloaded
    /// step do not count in the next one.
    private func settle() async {
        var last = -1
        for _ in 0..<60 {
            let now = receivers.reduce(0) { $0 + $1.received }
            if now == last { return }
            last = now
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Closes every connection of the run.
    func closeAll() async {
        for peer in senders + receivers { await peer.close() }
    }

    /// Raises the rate by half each step from `start` until two steps in a row miss their p99 `limit` or lose
    /// frames, and returns the fastest step that held. One miss alone may be the machine's noise (the generator
    /// shares its 2 cores with the cluster); every step is reported either way. A step that misses after one that
    /// held is followed by a step halfway between the two (by ratio), which narrows the answer from a factor of 1.5
    /// to one of about 1.22; it comes then rather than at the end, while the step above it has only just been
    /// missed and no overload has cut sockets off as slow consumers.
    ///
    /// With `stopAbove`, the steps go on past `limit` until two in a row pass `stopAbove` instead, so that a tail
    /// that is not the server's (a slow disk) does not end the search for its throughput. `maxSteps` only bounds a
    /// run that something went wrong with: 20 steps span a factor of 2217, far past what a scenario's start rate
    /// can grow to on one machine.
    func saturate(
        from start: Double, p99 limit: Double, stopAbove: Double? = nil, maxSteps: Int = 20,
        frame: @escaping @Sendable (_ peer: Int, _ n: Int, _ intended: UInt64) -> String
    ) async -> (best: Step?, steps: [Step]) {
        let stop = max(limit, stopAbove ?? limit)
        // An unrecorded second at the start rate, so that opening pool connections and first-use costs do not
        // land in the first step.
        _ = await OpenLoop(peers: senders, rate: start, duration: .seconds(1)).run(frame)
        var ladder: [Step] = []
        var halfway: [Step] = []
        var rate = start
        for _ in 0..<maxSteps {
            let step = await run(rate: rate, frame: frame)
            // Let queues empty between steps.
            try? await Task.sleep(for: .seconds(1))
            if let below = ladder.last, below.meets(p99: limit), !step.meets(p99: limit) {
                halfway.append(await run(rate: below.rate * 1.5.squareRoot(), frame: frame))
                try? await Task.sleep(for: .seconds(1))
            }
            ladder.append(step)
            if !step.meets(p99: stop), ladder.count >= 2, !ladder[ladder.count - 2].meets(p99: stop) { break }
            rate *= 1.5
        }
        let steps = (ladder + halfway).sorted { $0.rate < $1.rate }
        return (steps.last { $0.meets(p99: limit) }, steps)
    }
}
