import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import ParleyCommandLine
import ParleyServer
import Prometheus

/// The node and its operator commands, `serve` (the default) and `migrate`, and the client's commands.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat and peer-to-peer video meetings.",
        subcommands: [
            Serve.self, Migrate.self, Register.self, Login.self, Logout.self, Whoami.self, Users.self, Contacts.self, Rooms.self,
            Group.self, Send.self, Edit.self, React.self, Download.self, History.self, Search.self, Tail.self, Chat.self,
        ],
        defaultSubcommand: Serve.self)

    static func main() async { await runAndExit() }
}

/// Settings shared by every command that touches the store; flags override the environment.
struct StoreOptions: ParsableArguments {
    @Option(help: "Postgres URL (DATABASE_URL); unset for SQLite.") var databaseURL: String?
    @Option(help: "The SQLite file (PARLEY_SQLITE_PATH).") var sqlitePath: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: Logger.Level = .info

    func configuration() throws -> Configuration {
        var configuration = try Configuration(environment: ProcessInfo.processInfo.environment)
        if let databaseURL { configuration.databaseURL = databaseURL }
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
    @Option(help: "A Redis Cluster's seed nodes, host:port,... (REDIS_CLUSTER), instead of --redis-url.") var redisCluster: String?
    @Flag(inversion: .prefixedNo, help: "Apply migrations at start-up (PARLEY_MIGRATE).") var migrate: Bool?

    func run() async throws {
        var configuration = try store.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let role {
            guard let value = Configuration.Role(rawValue: role) else { throw ValidationError("--role must be all, api or ws") }
            configuration.role = value
        }
        if let nodeId { configuration.nodeId = nodeId }
        if let redisURL { configuration.redisURL = redisURL }
        if let redisCluster { configuration.redisCluster = redisCluster }
        if let migrate { configuration.migrate = migrate }
        if let loops = configuration.eventLoops { NIOSingletons.groupLoopCountSuggestion = loops }
        if configuration.tasksOnEventLoops {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }

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
