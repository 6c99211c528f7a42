import NIOCore

/// What one client may hold and spend on a node: deadlines for every connection, caps on connections, a byte
/// budget per socket, and the throttles of authentication and writes. docs/security.md lists each with its
/// variable and what a client sees at it.
public struct ClientLimits: Sendable {
    /// From a connection's first byte (or its opening) to the end of a request head.
    public var headTimeout = TimeAmount.seconds(10)
    /// From a request's head to the end of its body.
    public var bodyTimeout = TimeAmount.seconds(30)
    /// Between requests on a kept-alive connection: longer than load balancers keep an idle connection to a node
    /// (Traefik 90 s), so that a balancer never sends a request on one the node has just closed.
    public var idleTimeout = TimeAmount.seconds(120)
    /// TCP connections open at once from one address, but for `trustedProxies`.
    public var connectionsPerAddress = 256
    /// Load balancers: exempt from `connectionsPerAddress`, and believed when `X-Forwarded-For` names the client.
    public var trustedProxies: Set<String> = []
    /// WebSockets open at once for one user on one node.
    public var socketsPerUser = 16
    /// Everything queued to one socket: replies, events, replay and pongs. Past it the socket closes with 4008.
    public var socketBufferBytes = 1 << 20
    /// Failed logins for one account from one address before each further failure locks them out; an account
    /// from anywhere gets four times as many, and an address across accounts ten times.
    public var loginAttempts = 5
    /// The first lock-out after `loginAttempts`; each further failure doubles it, up to `maxLoginBackoff`.
    public var loginBackoff = Duration.seconds(1)
    public static let maxLoginBackoff = Duration.seconds(15 * 60)
    /// How long failed logins are remembered.
    public static let loginWindow = Duration.seconds(15 * 60)
    /// Password hashes computed at once; `passwordQueue` more may wait, and the rest are told to come back.
    public var passwordConcurrency = System.coreCount
    public static let passwordQueue = 64
    /// Registrations per address per hour.
    public var registrations = 20
    /// Token refreshes per address per minute.
    public var refreshes = 60
    /// Rooms and contacts created per user per minute.
    public var creations = 30
    /// Messages sent over REST per user per second (WebSocket sends have the frame rate limit).
    public var sendsPerSecond = 40
    /// Files announced and avatars set per user per minute: each may bring megabytes.
    public var uploads = 60
    /// Searches of messages per user per minute: each reads an index across all the user's rooms.
    public var searches = 60

    public init() {}
}
