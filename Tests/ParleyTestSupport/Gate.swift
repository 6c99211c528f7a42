import Synchronization

/// Holds whoever passes until it is opened, and stays open then: a step of the code under test that the test lets
/// through when it chooses.
public final class Gate: Sendable {
    private let state: Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>

    public init(open: Bool = false) {
        state = Mutex((open, []))
    }

    /// Lets through whoever waits, and whoever comes later.
    public func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume() }
    }

    /// How many wait at the gate.
    public var waiting: Int { state.withLock { $0.waiting.count } }

    /// Returns once the gate is open.
    public func pass() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiting.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }
}
