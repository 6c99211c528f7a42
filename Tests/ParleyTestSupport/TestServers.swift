import Foundation
import Testing

/// What the tests use beyond their own process, read from the environment here and nowhere else: the Postgres,
/// Redis and S3 server that scripts/test starts, a redis-server for tests that run their own, and the built `parley`.
///
/// A test that needs a server the environment lacks is skipped and says what it needs; but when
/// `PARLEY_TEST_REQUIRE_SERVERS=1` (scripts/test-suites sets it) it runs and fails on the missing server, so that a
/// run that was meant to test everything cannot pass on fewer tests.
public enum TestServers {
    /// `PARLEY_TEST_DATABASE_URL`: the `parley_test` database, in which tests make schemas or databases of their own.
    public static let postgres = TestServer(environment: "PARLEY_TEST_DATABASE_URL")
    /// `PARLEY_TEST_REDIS_URL`: a Redis the bus tests share, each on channels and keys of its own.
    public static let redis = TestServer(environment: "PARLEY_TEST_REDIS_URL")
    /// `PARLEY_TEST_REDIS_CLUSTER`: the seeds of a Redis Cluster of 3 masters and 3 replicas the bus tests share.
    public static let redisCluster = TestServer(environment: "PARLEY_TEST_REDIS_CLUSTER")
    /// `PARLEY_TEST_S3_URL`: an S3 server (moto's, from scripts/test), in which tests make buckets of their own.
    public static let s3 = TestServer(environment: "PARLEY_TEST_S3_URL")
    /// `PARLEY_TEST_PYTHON`: the test suite's Python, with botocore, an independent Signature V4 signer.
    public static let python = TestServer(environment: "PARLEY_TEST_PYTHON")
    /// redis-server, for tests that start, kill and restart a Redis of their own.
    public static let redisServer = TestServer(
        name: "redis-server",
        value: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") ? "/usr/bin/redis-server" : nil)

    /// `PARLEY_TEST_REQUIRE_SERVERS=1`: a missing server fails the tests that need it instead of skipping them.
    public static let required = ProcessInfo.processInfo.environment["PARLEY_TEST_REQUIRE_SERVERS"] == "1"

    /// The built `parley`: `PARLEY_BIN` (set by scripts/test), else beside the test bundle.
    public static var parleyBinary: URL {
        if let path = ProcessInfo.processInfo.environment["PARLEY_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("parley")
    }
}

/// A server some tests need: its URL or path, when the environment gives it.
public struct TestServer: Sendable {
    /// What gives it: the environment variable, or the program.
    public let name: String
    /// Its URL or path; nil when missing.
    public let value: String?

    init(name: String, value: String?) {
        self.name = name
        self.value = value
    }

    init(environment variable: String) {
        self.init(name: variable, value: ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Whether the tests that need it are enabled: when it is given, and also when it is missing but servers are
    /// required, so that those tests fail on `require()` instead of being skipped.
    public var enabled: Bool { value != nil || TestServers.required }

    /// Its URL or path. When it is missing, fails the test if servers are required; otherwise skips the test case
    /// (one argument of a parameterized test, say) with a warning that says what it needs, as a disabled test would.
    public func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        if let value { return value }
        guard TestServers.required else {
            let reason: Comment = "skipped: needs \(name): run scripts/test"
            // The warning, because the console reports a cancelled test case as passed.
            Issue.record(reason, severity: .warning, sourceLocation: sourceLocation)
            try Test.cancel(reason, sourceLocation: sourceLocation)
        }
        throw MissingTestServer(name: name)
    }
}

/// A server the test needs is missing although `PARLEY_TEST_REQUIRE_SERVERS` says the run must have it.
struct MissingTestServer: Error, CustomStringConvertible {
    let name: String
    var description: String {
        "\(name) is missing, but PARLEY_TEST_REQUIRE_SERVERS=1 says this run tests everything: scripts/test-suites sets it up"
    }
}
