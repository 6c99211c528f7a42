import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import ParleyBus
import ParleyCore
import ParleyStore
import Synchronization

/// Whether the session an access token was issued for still lives: a signed, unexpired token is good only while
/// its session is not revoked and its user exists. The store says so; each node remembers a live answer for
/// `liveFor`, and forgets it at once when any node revokes the session (`Channel.sessions`), so that a logout ends
/// the session's tokens on every node, REST, WebSocket upgrades and `auth` frames alike.
final class Sessions: Sendable {
    /// How long a node trusts a session it found live, should a revocation's message be lost on the bus.
    private let liveFor: Duration

    private struct State {
        /// Sessions found live, with when to ask the store again.
        var live: [String: ContinuousClock.Instant] = [:]
        /// Sessions revoked, until their last access token has expired.
        var revoked: [String: ContinuousClock.Instant] = [:]
        /// When `live` has grown to this, the answers that are old are swept.
        var sweepAt = 1024
    }

    private let store: any Store
    private let bus: any Bus
    private let tokenLifetime: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(store: any Store, bus: any Bus, tokenLifetime: Duration, liveFor: Duration = .seconds(10), logger: Logger) {
        self.liveFor = liveFor
        self.store = store
        self.bus = bus
        self.tokenLifetime = tokenLifetime
        self.logger = logger
    }

    /// Throws `unauthorized` unless the token's session lives.
    func require(_ access: Tokens.Access) async throws {
        let now = ContinuousClock.now
        // Revoked, live as of a moment ago, or to be asked.
        let known = state.withLock { state -> Bool? in
            if state.revoked[access.session] != nil { return false }
            return state.live[access.session].flatMap { $0 > now ? true : nil }
        }
        if known == true { return }
        guard known == nil, try await store.isLiveSession(access.session, user: access.userId) else {
            throw ParleyError(.unauthorized, "the session has ended: sign in again")
        }
        state.withLock { state in
            if state.live.count >= state.sweepAt {
                state.live = state.live.filter { $0.value > now }
                state.sweepAt = max(1024, 2 * state.live.count)
            }
            state.live[access.session] = now + liveFor
        }
    }

    /// Tells every node that `sessions` are revoked (the store has revoked them already).
    func announceRevoked(_ sessions: [String]) async {
        guard !sessions.isEmpty else { return }
        forget(sessions)
        do {
            try await bus.publish(try Frames.encode(.sessionsRevoked(sessions)), to: Channel.sessions)
        } catch {
            logger.warning("could not announce revoked sessions; other nodes learn of them from the store", metadata: ["error": "\(error)"])
        }
    }

    /// Takes a revocation from the bus.
    func receive(_ payload: ByteBuffer) {
        guard case .sessionsRevoked(let sessions)? = try? JSONDecoder().decode(Event.self, from: payload) else { return }
        forget(sessions)
    }

    private func forget(_ sessions: [String]) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.revoked = state.revoked.filter { $0.value > now }
            for session in sessions {
                state.live[session] = nil
                state.revoked[session] = now + tokenLifetime
            }
        }
    }
}
