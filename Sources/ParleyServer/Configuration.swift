import Foundation
import NIOCore
import ParleyCore
import ParleyStore

/// Everything a node is told at start-up. Built from the environment (the variables of the README, under the same
/// names), then adjusted by the flags of `parley serve`.
public struct Configuration: Sendable {
    /// Which part of the topology a node plays.
    public enum Role: String, Sendable, CaseIterable {
        /// REST and WebSocket: the embedded default.
        case all
        /// Stateless REST.
        case api
        /// Holds WebSockets.
        case ws

        var servesREST: Bool { self != .ws }
        var servesWebSockets: Bool { self != .api }
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var role = Role.all
    public var nodeId = Identifier.make("n")
    /// Postgres, or nil for SQLite at `sqlitePath`.
    public var databaseURL: String?
    /// Postgres connections each node opens at start and keeps. The pool grows to 20 on demand, and each connection
    /// beyond these schedules an idle timer whenever it goes back to the pool (see `PostgresDriver`).
    public var databaseWarmConnections = 4
    public var sqlitePath = "./parley.sqlite"
    /// Redis, or nil for the in-process bus: `redis://[user[:password]@]host:port[/db]`, or `rediss://` for TLS.
    public var redisURL: String?
    /// A Redis Cluster's seed nodes, `host:port,...` (the first may be a `redis[s]://user:password@host:port` URL),
    /// for sharded pub/sub; instead of `redisURL`.
    public var redisCluster: String?
    /// For `rediss://`: the CA that signed Redis's certificate (PEM; the system's roots otherwise), and a client
    /// certificate and its key for a Redis that asks for one.
    public var redisCAFile: String?
    public var redisCertificateFile: String?
    public var redisKeyFile: String?
    /// The HS256 signing key of access tokens. Embedded nodes generate one and keep it beside the SQLite file.
    public var jwtSecret: String?
    /// WebSocket origins allowed besides the node's own.
    public var allowedOrigins: [String] = []
    public var turnSecret: String?
    public var turnURIs: [String] = []
    public var stunURIs: [String] = []
    /// How long TURN credentials from `/api/turn` last, in seconds: about as long as a call, far short of a session.
    public var turnTTL = 3600
    /// The secret recorder workers prove themselves with (`parley-peer record-worker`); without one, a node
    /// accepts no recording.
    public var recorderSecret: String?
    /// The most bytes one recorded part may hold: a minute of a recording takes about 8 MiB.
    public var recordingMaxBytes: Int64 = 4 << 30
    /// How long a meeting rings before it is missed, in seconds.
    public var ringTimeout = 45
    /// The most attendees a meeting holds: a full mesh grows as the square of this.
    public var meetingCapacity = 8
    /// Apply migrations at start-up; nil applies them in embedded mode only (`migratesAtStart`).
    public var migrate: Bool?
    /// NIO's event loop threads: one per core when nil. A node that shares its cores with other busy processes
    /// (other nodes, Postgres, Redis, as `scripts/bench` runs them on two) wakes fewer threads per frame with one.
    public var eventLoops: Int?
    /// Runs Swift tasks on NIO's event loops instead of Swift's own pool, so that a task that awaits a socket resumes
    /// on the loop that served it, without a thread switch each way. Off by default; the benchmarks turn it on.
    public var tasksOnEventLoops = false
    /// bcrypt's cost: 2^cost rounds. 12 takes a few hundred milliseconds, as a password KDF should.
    public var passwordCost = 12
    /// WebSocket frames per second per connection, with a burst of twice that.
    public var rateLimit = 20
    /// How long a flush of one event to many sockets (64 or more on one event loop) waits after the loop's last such
    /// flush, in milliseconds, so that under load two or more events share each socket's syscall; 0 flushes every
    /// event at once. Below one such event per window nothing waits, and replies, signals and small rooms never do.
    public var fanOutFlushWindow = 20
    /// What one client may hold and spend; see docs/security.md.
    public var limits = ClientLimits()
    /// Where files' bytes go (`PARLEY_FILES`): `dir:PATH`, or `s3://BUCKET?endpoint=URL&region=REGION`. Nil keeps
    /// them in `parley-files/` beside the SQLite file.
    public var files: String?
    public var s3AccessKey: String?
    public var s3SecretKey: String?
    /// The largest file a user may upload.
    public var fileMaxBytes: Int64 = 25 << 20
    /// How long an uploaded file that no message carries is kept before it is swept, in seconds.
    public var fileUnsentTTL = 86_400
    /// A folder to serve the web client from instead of the copy built into the binary (`PARLEY_WEB_ROOT`): its
    /// files are read as they are, so that a change to them shows on the next reload.
    public var webRoot: String?

    public init() {}

    /// Reads the variables that are set and keeps the defaults for the rest.
    public init(environment: [String: String]) throws {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func list(_ name: String) -> [String] {
            value(name)?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? []
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = value(name) else { return nil }
            guard let number = Int(text), range.contains(number) else {
                throw ConfigurationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
            }
            return number
        }
        func flag(_ name: String) throws -> Bool? {
            guard let text = value(name) else { return nil }
            guard ["0", "1"].contains(text) else { throw ConfigurationError("\(name) must be 0 or 1, not '\(text)'") }
            return text == "1"
        }

        host = value("PARLEY_HOST") ?? host
        port = try integer("PARLEY_PORT", 0...65535) ?? port
        if let text = value("PARLEY_ROLE") {
            guard let role = Role(rawValue: text) else { throw ConfigurationError("PARLEY_ROLE must be all, api or ws, not '\(text)'") }
            self.role = role
        }
        nodeId = value("PARLEY_NODE_ID") ?? nodeId
        databaseURL = value("DATABASE_URL")
        databaseWarmConnections =
            try integer("PARLEY_DATABASE_WARM_CONNECTIONS", 0...PostgresDriver.defaultMaximumConnections) ?? databaseWarmConnections
        sqlitePath = value("PARLEY_SQLITE_PATH") ?? sqlitePath
        redisURL = value("REDIS_URL")
        redisCluster = value("REDIS_CLUSTER")
        redisCAFile = value("PARLEY_REDIS_CA_FILE")
        redisCertificateFile = value("PARLEY_REDIS_CERT_FILE")
        redisKeyFile = value("PARLEY_REDIS_KEY_FILE")
        jwtSecret = value("PARLEY_JWT_SECRET")
        allowedOrigins = list("PARLEY_ALLOWED_ORIGINS")
        turnSecret = value("PARLEY_TURN_SECRET")
        turnURIs = list("PARLEY_TURN_URIS")
        stunURIs = list("PARLEY_STUN_URIS")
        turnTTL = try integer("PARLEY_TURN_TTL", 60...604_800) ?? turnTTL
        recorderSecret = value("PARLEY_RECORDER_SECRET")
        recordingMaxBytes = Int64(try integer("PARLEY_RECORDING_MAX_BYTES", 1...(1 << 40)) ?? Int(recordingMaxBytes))
        if let secret = recorderSecret, secret.utf8.count < 16 {
            throw ConfigurationError("PARLEY_RECORDER_SECRET must hold at least 16 characters")
        }
        ringTimeout = try integer("PARLEY_RING_TIMEOUT", 1...3600) ?? ringTimeout
        meetingCapacity = try integer("PARLEY_MEETING_CAPACITY", 2...64) ?? meetingCapacity
        migrate = try flag("PARLEY_MIGRATE")
        eventLoops = try integer("PARLEY_EVENT_LOOPS", 1...1024)
        tasksOnEventLoops = try flag("PARLEY_TASKS_ON_EVENT_LOOPS") ?? tasksOnEventLoops
        // bcrypt accepts 4 to 31; tests and benchmarks lower it.
        passwordCost = try integer("PARLEY_PASSWORD_COST", 4...31) ?? passwordCost
        rateLimit = try integer("PARLEY_RATE_LIMIT", 1...1_000_000) ?? rateLimit
        fanOutFlushWindow = try integer("PARLEY_FANOUT_FLUSH_WINDOW_MS", 0...1000) ?? fanOutFlushWindow
        limits.headTimeout = try integer("PARLEY_HEAD_TIMEOUT", 1...3600).map { TimeAmount.seconds(Int64($0)) } ?? limits.headTimeout
        limits.bodyTimeout = try integer("PARLEY_BODY_TIMEOUT", 1...3600).map { TimeAmount.seconds(Int64($0)) } ?? limits.bodyTimeout
        limits.idleTimeout = try integer("PARLEY_IDLE_TIMEOUT", 1...3600).map { TimeAmount.seconds(Int64($0)) } ?? limits.idleTimeout
        limits.connectionsPerAddress = try integer("PARLEY_MAX_CONNECTIONS_PER_ADDRESS", 1...1_000_000) ?? limits.connectionsPerAddress
        limits.trustedProxies = Set(list("PARLEY_TRUSTED_PROXIES"))
        limits.socketsPerUser = try integer("PARLEY_MAX_SOCKETS_PER_USER", 1...100_000) ?? limits.socketsPerUser
        limits.socketBufferBytes = try integer("PARLEY_SOCKET_BUFFER_BYTES", 65_536...1 << 30) ?? limits.socketBufferBytes
        limits.loginAttempts = try integer("PARLEY_LOGIN_ATTEMPTS", 1...1_000_000) ?? limits.loginAttempts
        limits.loginBackoff = try integer("PARLEY_LOGIN_BACKOFF", 1...3600).map { Duration.seconds($0) } ?? limits.loginBackoff
        limits.passwordConcurrency = try integer("PARLEY_PASSWORD_CONCURRENCY", 1...1024) ?? limits.passwordConcurrency
        limits.registrations = try integer("PARLEY_REGISTER_LIMIT", 1...100_000_000) ?? limits.registrations
        limits.refreshes = try integer("PARLEY_REFRESH_LIMIT", 1...100_000_000) ?? limits.refreshes
        limits.creations = try integer("PARLEY_CREATE_LIMIT", 1...100_000_000) ?? limits.creations
        limits.sendsPerSecond = try integer("PARLEY_SEND_LIMIT", 1...100_000_000) ?? limits.sendsPerSecond
        limits.uploads = try integer("PARLEY_UPLOAD_LIMIT", 1...100_000_000) ?? limits.uploads
        limits.searches = try integer("PARLEY_SEARCH_LIMIT", 1...100_000_000) ?? limits.searches
        files = value("PARLEY_FILES")
        s3AccessKey = value("PARLEY_S3_ACCESS_KEY")
        s3SecretKey = value("PARLEY_S3_SECRET_KEY")
        fileMaxBytes = try integer("PARLEY_FILE_MAX_BYTES", 1...(1 << 40)).map(Int64.init) ?? fileMaxBytes
        fileUnsentTTL = try integer("PARLEY_FILE_UNSENT_TTL", 1...(365 * 86_400)) ?? fileUnsentTTL
        webRoot = value("PARLEY_WEB_ROOT")
    }
}

extension Configuration {
    /// Whether the node applies migrations as it starts: as told, else only in embedded mode (SQLite), where no
    /// operator runs `parley migrate` first.
    public var migratesAtStart: Bool { migrate ?? (databaseURL == nil) }
}

/// A setting that is missing or malformed; the message names the variable.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
