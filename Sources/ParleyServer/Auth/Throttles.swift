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
    }

    /// Spends one of `rate` for `subject`, or throws `rate_limited` with when to come back.
    func spend(_ rate: Rate, by subject: String) async throws {
        let (limit, window): (Int, Duration) =
            switch rate {
            case .registration: (limits.registrations, .seconds(3600))
            case .refresh: (limits.refreshes, .seconds(60))
            case .creation: (limits.creations, .seconds(60))
            case .send: (limits.sendsPerSecond, .seconds(1))
            }
        guard let counted = await tolerant({ try await bus.count(["parley:throttle:\(rate.rawValue):\(subject)"], window: window) })?.first,
            counted.count > limit
        else { return }
        throw ParleyError.rateLimited("too many requests of this kind: \(limit) allowed", retryAfter: Self.seconds(counted.remaining))
    }

    // MARK: Logins

    /// The counters of one login: the account from this address, the account from anywhere, and the address
    /// across accounts, with how many failures each allows before it locks.
    private func loginKeys(account: String, address: String) -> [(key: String, free: Int)] {
        [
            ("parley:throttle:login:\(account)@\(address)", limits.loginAttempts),
            ("parley:throttle:login-account:\(account)", 4 * limits.loginAttempts),
            ("parley:throttle:login-address:\(address)", 4 * limits.loginAttempts),
        ]
    }

    /// Throws `rate_limited` with `Retry-After` while any of the login's counters is locked: the right password
    /// too, so that a guesser learns nothing from a locked account.
    func checkLogin(account: String, address: String) async throws {
        let keys = loginKeys(account: account, address: address).map { $0.key + ":lock" }
        guard let longest = await tolerant({ try await bus.locked(keys) })?.compactMap({ $0 }).max() else { return }
        throw ParleyError.rateLimited("too many failed sign-ins: try again later", retryAfter: Self.seconds(longest))
    }

    /// Counts a failed login. A counter past its free attempts locks for `loginBackoff`, doubled for each failure
    /// after, up to `maxLoginBackoff`.
    func loginFailed(account: String, address: String) async {
        let keys = loginKeys(account: account, address: address)
        guard let counted = await tolerant({ try await bus.count(keys.map(\.key), window: ClientLimits.loginWindow) }) else { return }
        let locks = zip(keys, counted).compactMap { key, counted -> (key: String, for: Duration)? in
            guard counted.count >= key.free else { return nil }
            let doublings = min(counted.count - key.free, 20)
            return (key.key + ":lock", min(limits.loginBackoff * (1 << doublings), ClientLimits.maxLoginBackoff))
        }
        guard !locks.isEmpty else { return }
        _ = await tolerant { try await bus.lock(locks) }
    }

    /// A login that succeeded forgets the account's failures from this address and from anywhere.
    func loginSucceeded(account: String, address: String) async {
        let keys = loginKeys(account: account, address: address).prefix(2).flatMap { [$0.key, $0.key + ":lock"] }
        _ = await tolerant { try await bus.reset(keys) }
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
