import Foundation
import Testing

/// A `parley` node started as a child process, as a user would run it. It listens on a port the kernel picks,
/// read back from its log.
public final class NodeProcess: @unchecked Sendable {
    // @unchecked: `process` and `log` are set once in init and only read afterwards.
    public let process = Process()
    public let log: URL
    public private(set) var port = 0

    public init(environment: [String: String], directory: URL, arguments: [String] = []) throws {
        log = directory.appendingPathComponent("node-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = TestServers.parleyBinary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        // Only what the test gives, so that nothing from the developer's shell changes the node.
        process.environment = ["PATH": "/usr/bin:/bin", "PARLEY_PORT": "0", "PARLEY_PASSWORD_COST": "4"].merging(environment) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try launch(process)
    }

    /// Waits until the node logs that it listens, and returns its base URL.
    public func listening(within seconds: Double = 60) async throws -> String {
        // Until it says where it listens, or has stopped without saying so.
        _ = await holds(within: .seconds(seconds)) {
            if let match = output.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/), let port = Int(match.1) { self.port = port }
            return port != 0 || !process.isRunning
        }
        guard port != 0 else { throw NodeError(description: "the node did not start:\n\(output)") }
        return baseURL
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
    /// Waits until the process has exited, or `seconds` have passed, and says whether it exited. It checks instead of
    /// calling `waitUntilExit()`, which spins a run loop that, off the main thread, may never hear of the exit: that
    /// parks one of the cooperative pool's threads for good, and on 2 cores two of them hang every test.
    @discardableResult
    public func exited(within seconds: Double = 30) async -> Bool {
        await holds(within: .seconds(seconds)) { !isRunning }
    }
}

public struct NodeError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The signing key of the nodes the tests start, so that a test can sign tokens they accept.
public let testSigningKey = "test-signing-key-of-at-least-32-bytes"
