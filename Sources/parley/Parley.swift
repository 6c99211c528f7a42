import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import ParleyServer
import Prometheus

/// The one executable: `serve` (the default), `migrate`, `bench`.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat and peer-to-peer video meetings.",
        subcommands: [Serve.self, Migrate.self, Bench.self],
        defaultSubcommand: Serve.self)
}

/// Settings shared by every command that touches the store; flags override the environment.
struct StoreOptions: ParsableArguments {
    @Option(help: "Postgres URL (DATABASE_URL); unset for SQLite.") var databaseURL: String?
    @Option(help: "The SQLite file (PARLEY_SQLITE_PATH).") var sqlitePath: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: Logger.Level = .info

    func configuration() throws -> Configuration {
        var configuration = try Configuration(environment: ProcessInfo.processInfo.environment)
        if let databaseURL {
            configuration.databaseURL = databaseURL
            // Flags mirror the environment, so the migrate default follows the store the flag picked.
            if ProcessInfo.processInfo.environment["PARLEY_MIGRATE"] == nil { configuration.migrate = false }
        }
        if let sqlitePath { configuration.sqlitePath = sqlitePath }
        return configuration
    }

    func logger() -> Logger {
        var logger = Logger(label: "parley")
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a node: REST, WebSocket, or both (the default).")

    @OptionGroup var store: StoreOptions
    @Option(help: "Listen address (PARLEY_HOST).") var host: String?
    @Option(help: "Listen port (PARLEY_PORT).") var port: Int?
    @Option(help: "all, api or ws (PARLEY_ROLE).") var role: String?
    @Option(help: "This node's id on the bus (PARLEY_NODE_ID).") var nodeId: String?
    @Option(help: "Redis URL (REDIS_URL); unset for the in-process bus.") var redisURL: String?
    @Flag(inversion: .prefixedNo, help: "Apply migrations at start-up (PARLEY_MIGRATE).") var migrate: Bool?

    func run() async throws {
        // PARLEY_EVENT_LOOPS is the number of NIO's event loop threads, one per core unless it is set. A node that
        // shares its cores with other busy processes (other nodes, Postgres, Redis: `scripts/bench` runs them all on
        // two) wakes fewer threads per frame with one, the more so with its tasks on that loop too.
        if let loops = ProcessInfo.processInfo.environment["PARLEY_EVENT_LOOPS"] {
            guard let count = Int(loops), count > 0 else { throw ValidationError("PARLEY_EVENT_LOOPS must be a whole number above 0") }
            NIOSingletons.groupLoopCountSuggestion = count
        }
        // PARLEY_TASKS_ON_EVENT_LOOPS=1 runs tasks on NIO's event loops instead of Swift's own pool, so that a task
        // that awaits a socket (Postgres, Redis, a WebSocket) resumes on the loop that served it, without a thread
        // switch each way: about a fifth less CPU per durable send in `parley bench durable`. It is off by default:
        // `scripts/bench storm` with it once brought no client back within 60 s (why was not found, and it no longer
        // happens), and the storm gains nothing from it.
        if ProcessInfo.processInfo.environment["PARLEY_TASKS_ON_EVENT_LOOPS"] == "1" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        var configuration = try store.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let role {
            guard let value = Configuration.Role(rawValue: role) else { throw ValidationError("--role must be all, api or ws") }
            configuration.role = value
        }
        if let nodeId { configuration.nodeId = nodeId }
        if let redisURL { configuration.redisURL = redisURL }
        if let migrate { configuration.migrate = migrate }

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = store.logger()
        logger.info(
            "starting Parley",
            metadata: [
                "url": "http://\(configuration.host):\(configuration.port)", "role": "\(configuration.role.rawValue)",
                "store": "\(configuration.databaseURL == nil ? "sqlite \(configuration.sqlitePath)" : "postgres")",
            ])
        try await runNode(configuration, registry: registry, logger: logger)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the database migrations that are missing, then exit.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let applied = try await runMigrations(try store.configuration(), logger: store.logger())
        print(applied.isEmpty ? "The schema is up to date." : "Applied: \(applied.joined(separator: ", "))")
    }
}
