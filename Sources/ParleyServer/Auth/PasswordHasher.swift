import HummingbirdBcrypt
import NIOCore
import NIOPosix
import ParleyCore
import Synchronization

/// bcrypt, run on NIO's thread pool so that its deliberate slowness never blocks an event loop, and at most
/// `concurrency` at once: guesses cannot take every core from the node. `ClientLimits.passwordQueue` more wait
/// their turn; past them a request is told to come back (`unavailable`, with `Retry-After`).
struct PasswordHasher: Sendable {
    let cost: Int
    private let gate: Gate

    init(cost: Int, concurrency: Int = System.coreCount) {
        self.cost = cost
        self.gate = Gate(capacity: concurrency, queue: ClientLimits.passwordQueue)
    }

    func hash(_ password: String) async throws -> String {
        let cost = UInt8(cost)
        return try await gate.run { try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) } }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await gate.run { try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) } }
    }

    /// Lets `capacity` bodies run at once and `queue` wait, in the order they came.
    final class Gate: Sendable {
        private struct State {
            var running = 0
            var waiting: [CheckedContinuation<Void, Never>] = []
        }

        private let state = Mutex(State())
        private let capacity: Int
        private let queue: Int

        init(capacity: Int, queue: Int) {
            self.capacity = capacity
            self.queue = queue
        }

        /// How many wait their turn.
        var waiting: Int { state.withLock { $0.waiting.count } }

        func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
            try await enter()
            defer { leave() }
            return try await body()
        }

        private func enter() async throws {
            enum Entry { case now, wait, refused }
            let entry = state.withLock { state -> Entry in
                if state.running < capacity {
                    state.running += 1
                    return .now
                }
                return state.waiting.count < queue ? .wait : .refused
            }
            switch entry {
            case .now: return
            case .refused: throw ParleyError(.unavailable, "the server is busy checking passwords: try again", retryAfter: 1)
            case .wait:
                // The place is handed over by `leave`, which counts it as running already.
                await withCheckedContinuation { continuation in
                    let admitted = state.withLock { state -> Bool in
                        if state.running < capacity {
                            state.running += 1
                            return true
                        }
                        state.waiting.append(continuation)
                        return false
                    }
                    if admitted { continuation.resume() }
                }
            }
        }

        private func leave() {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.waiting.isEmpty else {
                    state.running -= 1
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?.resume()
        }
    }
}
