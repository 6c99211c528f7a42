import Foundation
import Synchronization
import Testing

/// A redis-server of the test's own, on a free port, that the test can stop and start again: plain, or with more
/// settings (`arguments`, such as ACL users), or serving TLS only with a certificate of `TestCertificates`.
public final class RedisServer: @unchecked Sendable {
    // @unchecked: `process` is replaced only by `start`, which the one test that owns the server calls in sequence.
    public let port: Int
    let directory: URL
    private let arguments: [String]
    private let tls: TestCertificates?
    private var process: Process?

    public init(arguments: [String] = [], tls: TestCertificates? = nil) throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        (self.arguments, self.tls) = (arguments, tls)
    }

    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)" }

    /// Starts the server and returns once it answers. Needs redis-server (`TestServers.redisServer`).
    public func start(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestServers.redisServer.require(sourceLocation: sourceLocation))
        let listen =
            tls.map {
                [
                    "--port", "0", "--tls-port", "\(port)", "--tls-cert-file", $0.serverCertificate.path, "--tls-key-file", $0.serverKey.path,
                    "--tls-ca-cert-file", $0.ca.path, "--tls-auth-clients", "optional",
                ]
            } ?? ["--port", "\(port)"]
        process.arguments = ["--bind", "127.0.0.1"] + listen + ["--save", "", "--appendonly", "no", "--dir", directory.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        try launch(process)
        self.process = process
        try await waitUntil("redis-server answers on port \(port)", sourceLocation: sourceLocation) {
            (try? await RedisPing.ping(port: port, tls: tls)) == true
        }
    }

    public func kill() async {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        await process.exited()
    }

    /// Kills the server if it runs, without waiting, and removes its directory.
    public func stop() {
        if let process, process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// A port nothing listens on, below the kernel's ephemeral range (32768 and up here), so that no outgoing
    /// connection of the tests running beside this one takes it before redis-server binds it; and one this process
    /// has not handed out before.
    public static func freePort() throws -> Int {
        while true {
            let port = Int.random(in: 20000..<32768)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(socket) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
    }

    private static let handedOut = Mutex<Set<Int>>([])
}

/// Whether something answers PING on a port, through redis-cli (over TLS with the CA and the client certificate of
/// `tls`). A server that asks for a password answers too (NOAUTH): it is up.
public enum RedisPing {
    public static func ping(port: Int, tls: TestCertificates? = nil) async throws -> Bool {
        let process = Process()
        // redis-cli comes with redis-server.
        process.executableURL = URL(fileURLWithPath: try TestServers.redisServer.require()).deletingLastPathComponent()
            .appendingPathComponent("redis-cli")
        let certificates = tls.map { ["--tls", "--cacert", $0.ca.path, "--cert", $0.clientCertificate.path, "--key", $0.clientKey.path] }
        process.arguments = ["-p", "\(port)"] + (certificates ?? []) + ["ping"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try launch(process)
        guard await process.exited(within: 5) else {
            process.terminate()
            return false
        }
        let answer = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return answer.contains("PONG") || answer.contains("NOAUTH")
    }
}

/// A CA of the test's own, made with openssl, and what it signed: a certificate for 127.0.0.1 (the server's) and a
/// client certificate; and, to be refused, another CA.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var ca: URL { directory.appendingPathComponent("ca.crt") }
    public var otherCA: URL { directory.appendingPathComponent("other-ca.crt") }
    public var serverCertificate: URL { directory.appendingPathComponent("server.crt") }
    public var serverKey: URL { directory.appendingPathComponent("server.key") }
    public var clientCertificate: URL { directory.appendingPathComponent("client.crt") }
    public var clientKey: URL { directory.appendingPathComponent("client.key") }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("certificates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Parley test CA")
        try openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2", "-subj", "/CN=Another CA")
        try sign("server", subject: "/CN=127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1")
        try sign("client", subject: "/CN=parley-node", extensions: "extendedKeyUsage=clientAuth")
    }

    private func sign(_ name: String, subject: String, extensions: String) throws {
        try openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject)
        try Data(extensions.utf8).write(to: directory.appendingPathComponent("\(name).ext"))
        try openssl(
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).crt", "-days", "2",
            "-extfile", "\(name).ext")
    }

    private func openssl(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try launch(process)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw NodeError(description: "openssl \(arguments.joined(separator: " ")) failed") }
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
