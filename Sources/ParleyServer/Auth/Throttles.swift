import Logging
import ParleyBus
import ParleyCore

/// The throttles of what is costly or worth guessing at, counted on the bus so that every node of a cluster counts
/// into the same numbers (Redis), and guesses spread over nodes are counted once. A bus that is away lets requests
/// through rather than lock everyone out.
struct Throttles: Sendable {
    let bus: any Bus
    let limits: ClientLimits
    let logger: Logger

    /// What is counted per subject in a window, and how many the window allows.
    enum Rate: String {
        /// Per address, an hour.
        case registration
        /// Per address, a minute.
        case refresh
        /// Rooms and contacts, per user, a minute.
        case creation
        /// REST sends, per user, a second.
        case send
        /// Files announced and avatars set, per user, a minute.
        case upload
        /// Searches of messages, per user, a minute.
        case search
    }

    /// Spends one of `rate` for `subject`, or throws `rate_limited` with when to come back.
    func spend(_ rate: Rate, by subject: String) async throws {
        let (limit, window): (Int, Duration) =
            switch rate {
            case .registration: (limits.registrations, .seconds(3600))
            case .refresh: (limits.refreshes, .seconds(60))
            case .creation: (limits.creations, .seconds(60))
            case .send: (limits.sendsPerSecond, .seconds(1))
            case .upload: (limits.uploads, .seconds(60))
            case .search: (limits.searches, .seconds(60))
            }
        guard let counted = await tolerant({ try await bus.count(["parley:throttle:\(rate.rawValue):\(subject)"], window: window) })?.first,
            counted.count > limit
        else { return }
        throw ParleyError.rateLimited("too many requests of this kind: \(limit) allowed", retryAfter: Self.seconds(counted.remaining))
    }

    // MARK: Logins

    /// A login under way, with what its counters said as it began.
    struct LoginAttempt: Sendable {
        fileprivate let account: String
        fileprivate let address: String
        fileprivate let counts: [Int]
    }

    /// The counters of one login: the account from this address and the account from anywhere, counted as the
    /// login begins; and the address across accounts, counted as a login fails, looser so that one address shared
    /// by many people (an office's NAT) is not locked out by a few typos. Each with the failures it allows.
    private func loginKeys(account: String, address: String) -> (account: [(key: String, free: Int)], address: (key: String, free: Int)) {
        (
            [
                ("parley:throttle:login:\(account)@\(address)", limits.loginAttempts),
                ("parley:throttle:login-account:\(account)", 4 * limits.loginAttempts),
            ],
            ("parley:throttle:login-address:\(address)", 10 * limits.loginAttempts)
        )
    }

    /// Begins a login: `rate_limited` with `Retry-After` while any of its counters is locked, the right password
    /// too, so that a guesser learns nothing from a locked account. The attempt counts against the account before
    /// the password is checked, as a failure until it succeeds: guesses sent at once cannot all pass a check made
    /// before any of them failed. Past the free attempts, only the one that takes the lock goes on.
    func beginLogin(account: String, address: String) async throws -> LoginAttempt {
        let keys = loginKeys(account: account, address: address)
        let locks = (keys.account.map(\.key) + [keys.address.key]).map { $0 + ":lock" }
        if let longest = await tolerant({ try await bus.locked(locks) })?.compactMap({ $0 }).max() {
            throw ParleyError.rateLimited("too many failed sign-ins: try again later", retryAfter: Self.seconds(longest))
        }
        let counts = await tolerant { try await bus.count(keys.account.map(\.key), window: ClientLimits.loginWindow) }?.map(\.count) ?? []
        for (key, count) in zip(keys.account, counts) where count > key.free {
            let hold = backoff(count - key.free)
            guard await tolerant({ try await bus.acquire(key.key + ":lock", for: hold) }) ?? true else {
                throw ParleyError.rateLimited("too many failed sign-ins: try again later", retryAfter: Self.seconds(hold))
            }
        }
        return LoginAttempt(account: account, address: address, counts: counts)
    }

    /// A failed login: each counter at or past its free attempts locks for `loginBackoff`, doubled for each failure
    /// past them, up to `maxLoginBackoff`.
    func loginFailed(_ attempt: LoginAttempt) async {
        let keys = loginKeys(account: attempt.account, address: attempt.address)
        let address = await tolerant { try await bus.count([keys.address.key], window: ClientLimits.loginWindow) }?.first?.count ?? 0
        let counted = zip(keys.account, attempt.counts).map { ($0.key, $0.free, $1) } + [(keys.address.key, keys.address.free, address)]
        let locks = counted.compactMap { key, free, count -> (key: String, for: Duration)? in
            count >= free ? (key + ":lock", backoff(count - free)) : nil
        }
        guard !locks.isEmpty else { return }
        _ = await tolerant { try await bus.lock(locks) }
    }

    /// A login that succeeded forgets the account's failures, from this address and from anywhere.
    func loginSucceeded(_ attempt: LoginAttempt) async {
        let keys = loginKeys(account: attempt.account, address: attempt.address).account.flatMap { [$0.key, $0.key + ":lock"] }
        _ = await tolerant { try await bus.reset(keys) }
    }

    /// The lock after `past` failures beyond the free ones: `loginBackoff`, doubled for each.
    private func backoff(_ past: Int) -> Duration {
        min(limits.loginBackoff * (1 << min(past, 20)), ClientLimits.maxLoginBackoff)
    }

    /// The result, or nil (logged) when the bus is away.
    private func tolerant<T>(_ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch {
            logger.warning("a throttle could not reach the bus; the request goes through", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private static func seconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) + (duration.components.attoseconds > 0 ? 1 : 0)
    }
}
