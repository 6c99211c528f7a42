/// Where a client stands in one room's history: the last seq it delivered. It decides, for each message that
/// arrives, whether to deliver it, drop it as a repeat, or first fetch the gap before it.
public struct RoomCursor: Sendable, Hashable {
    public private(set) var lastSeq: Int64

    public enum Action: Sendable, Hashable {
        case deliver
        /// Already delivered (a replay overlapping live traffic, or an at-least-once repeat).
        case drop
        /// Messages after `after` and before `before` are missing: fetch them, then deliver this one.
        case fill(after: Int64, before: Int64)
    }

    public init(lastSeq: Int64) {
        self.lastSeq = lastSeq
    }

    public func action(for seq: Int64) -> Action {
        if seq <= lastSeq { return .drop }
        if seq == lastSeq + 1 { return .deliver }
        return .fill(after: lastSeq, before: seq)
    }

    /// Records a delivered message; older seqs never move the cursor back.
    public mutating func delivered(_ seq: Int64) {
        lastSeq = max(lastSeq, seq)
    }
}
