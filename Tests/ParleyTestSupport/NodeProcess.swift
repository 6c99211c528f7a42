import Foundation
import Testing

/// A `parley` node started as a child process, as a user would run it. It listens on a port the kernel picks,
/// read back from its log.
public final class NodeProcess: @unchecked Sendable {
    // @unchecked: `process` and `log` are set once in init and only read afterwards.
    public let process = Process()
    public let log: URL
    public private(set) var port = 0

    /// The built `parley`: `PARLEY_BIN` (set by scripts/test), else beside the test bundle.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PARLEY_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("parley")
    }

    public init(environment: [String: String], directory: URL, arguments: [String] = []) throws {
        log = directory.appendingPathComponent("node-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        // Only what the test gives, so that nothing from the developer's shell changes the node.
        process.environment = ["PATH": "/usr/bin:/bin", "PARLEY_PORT": "0", "PARLEY_PASSWORD_COST": "4"].merging(environment) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Waits until the node logs that it listens, and returns its base URL.
    public func listening(within seconds: Double = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let match = text.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/), let port = Int(match.1) {
                self.port = port
                return "http://127.0.0.1:\(port)"
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NodeError(description: "the node did not start:\n\(output)")
    }

    /// Where the node serves REST and the web client, once it listens.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// Its WebSocket endpoint.
    public var webSocketURL: String { "ws://127.0.0.1:\(port)/ws" }

    /// Runs `body` with an embedded node (SQLite, in-process bus) in a fresh folder, then stops the node with
    /// SIGTERM and removes the folder.
    public static func withEmbedded<R: Sendable>(
        environment: [String: String] = [:], _ body: (NodeProcess) async throws -> R
    ) async throws -> R {
        try await withScratchDirectory("parley-node") { directory in
            let node = try NodeProcess(environment: environment, directory: directory)
            _ = try await node.listening()
            let result = try await body(node)
            _ = try await node.terminate()
            return result
        }
    }

    public var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and returns the exit status once the node has stopped.
    public func terminate(within seconds: Double = 30) async throws -> Int32 {
        process.terminate()
        return try await exitStatus(within: seconds)
    }

    /// Waits for the node to stop by itself; kills it and throws if it does not in time.
    public func exitStatus(within seconds: Double = 30) async throws -> Int32 {
        guard await process.exited(within: seconds) else {
            Foundation.kill(process.processIdentifier, SIGKILL)
            throw NodeError(description: "the node was still running after \(seconds) s:\n\(output)")
        }
        return process.terminationStatus
    }

    /// SIGKILL, as a crash would.
    public func kill() async {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        await process.exited()
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}

extension Process {
    /// Waits until the process has exited, or `seconds` have passed, and says whether it exited. It polls instead of
    /// calling `waitUntilExit()`, which spins a run loop that, off the main thread, may never hear of the exit: that
    /// parks one of the cooperative pool's threads for good, and on 2 cores two of them hang every test.
    @discardableResult
    public func exited(within seconds: Double = 30) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

public struct NodeError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The signing key of the nodes the tests start, so that a test can sign tokens they accept.
public let testSigningKey = "test-signing-key-of-at-least-32-bytes"
