import Foundation
import Histogram
import NIOCore
import Synchronization

/// Nanoseconds on the system's monotonic clock: the same in every process of the machine, so a timestamp written
/// by the sender reads right in a receiver.
public func monotonicNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Latencies in microseconds, up to a minute, to three significant digits, shared by the event loops that record.
public final class Latencies: Sendable {
    private let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three))

    public init() {}

    /// Records the time from `intended` (monotonic nanoseconds) until now.
    public func record(since intended: UInt64, at now: UInt64 = monotonicNanos()) {
        let micros = now > intended ? (now - intended) / 1000 : 0
        histogram.withLock { _ = $0.record(min(micros, 60_000_000)) }
    }

    public var count: UInt64 { histogram.withLock { $0.totalCount } }

    /// The latency at `percentile` (0…100), in milliseconds.
    public func milliseconds(at percentile: Double) -> Double {
        histogram.withLock { Double($0.valueAtPercentile(percentile)) / 1000 }
    }

    public var maxMilliseconds: Double { histogram.withLock { Double($0.max) / 1000 } }

    public func reset() { histogram.withLock { $0.reset() } }
}

/// The marker before a benchmark timestamp in a message text or a signal payload: `bench` and the intended send
/// time in monotonic nanoseconds.
enum Stamp {
    static let prefix = "bench"
    private static let marker = Array("\"bench".utf8)

    static func text(_ intended: UInt64) -> String { "\(prefix)\(intended)" }

    /// The timestamp in a frame as it arrived, found without decoding its JSON.
    static func find(in buffer: ByteBuffer) -> UInt64? {
        buffer.withUnsafeReadableBytes { bytes -> UInt64? in
            guard bytes.count > marker.count else { return nil }
            var index = 0
            let last = bytes.count - marker.count
            search: while index <= last {
                for offset in 0..<marker.count where bytes[index + offset] != marker[offset] {
                    index += 1
                    continue search
                }
                var value: UInt64 = 0
                var digit = index + marker.count
                while digit < bytes.count, bytes[digit] >= 0x30, bytes[digit] <= 0x39 {
                    value = value * 10 + UInt64(bytes[digit] - 0x30)
                    digit += 1
                }
                return digit > index + marker.count ? value : nil
            }
            return nil
        }
    }
}

/// CPU time and memory of server processes, read from `/proc`: on two cores wall-clock alone misleads, so every
/// rate is also given per server CPU-second.
public struct ProcessMeter: Sendable {
    private let members: @Sendable () -> [Int32]
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    public init(pids: [Int32]) { members = { pids } }

    /// `parent` and its children as they are at each reading: Postgres's postmaster and its backends.
    public init(family parent: Int32) {
        members = {
            let children = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
            return [parent] + children.split(separator: " ").compactMap { Int32($0) }
        }
    }

    public var pids: [Int32] { members() }

    /// User plus system CPU seconds of all the processes so far.
    public func cpuSeconds() -> Double {
        pids.reduce(0) { total, pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return total }
            // After "pid (comm)" the fields start at 3 (state); utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return total }
            return total + (user + system) / Self.ticksPerSecond
        }
    }

    /// Resident set size in bytes, summed.
    public func residentBytes() -> Int {
        pids.reduce(0) { total, pid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kilobytes = Int(line.split(separator: " ")[1])
            else { return total }
            return total + kilobytes * 1024
        }
    }
}

/// What the figures were measured on.
public enum Machine {
    public static var description: String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let memory = ProcessInfo.processInfo.physicalMemory / (1 << 30)
        let kernel =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(model)), \(memory) GiB, Linux \(kernel)"
    }
}
