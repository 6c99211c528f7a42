import Foundation
import NIOSSL

/// Where the bus's Redis is and how to sign in to it: `REDIS_URL`, `redis://[user[:password]@]host:port[/db]`, or
/// `rediss://` for TLS, with `PARLEY_REDIS_CA_FILE` for a private CA and, optionally, a client certificate and key.
public struct RedisEndpoint: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// An ACL user; with a password and no user, the `default` user.
    public var user: String?
    public var password: String?
    public var database: Int
    /// Set for `rediss://`.
    public var tls: TLS?

    public struct TLS: Sendable {
        /// PEM: the CA that signed the server's certificate; the system's roots when nil.
        public var caFile: String?
        /// PEM: a client certificate and its key, for a server that asks for one.
        public var certificateFile: String?
        public var keyFile: String?

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            (self.caFile, self.certificateFile, self.keyFile) = (caFile, certificateFile, keyFile)
        }
    }

    /// Reads a `REDIS_URL`; `tls` gives the files a `rediss://` URL uses.
    public init(url: String, tls files: TLS = TLS()) throws {
        let usage = "REDIS_URL must look like redis://[user[:password]@]host:port[/db], or rediss:// for TLS"
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["redis", "rediss"].contains(scheme),
            let host = components.host, !host.isEmpty
        else { throw RedisError(description: usage) }
        self.host = host
        port = components.port ?? 6379
        // A user with no password is a password alone, as redis-cli reads redis://:password@ and redis://password@.
        let user = components.percentEncodedUser?.removingPercentEncoding
        let password = components.percentEncodedPassword?.removingPercentEncoding
        (self.user, self.password) = password == nil ? (nil, user.flatMap { $0.isEmpty ? nil : $0 }) : (user.flatMap { $0.isEmpty ? nil : $0 }, password)
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard path.isEmpty || Int(path).map({ (0...15).contains($0) }) == true else {
            throw RedisError(description: "REDIS_URL's database must be a number from 0 to 15, not '\(path)'")
        }
        database = Int(path) ?? 0
        tls = scheme == "rediss" ? files : nil
        if tls == nil, files.caFile != nil || files.certificateFile != nil {
            throw RedisError(description: "PARLEY_REDIS_CA_FILE and PARLEY_REDIS_CERT_FILE need a rediss:// REDIS_URL")
        }
        if (files.certificateFile == nil) != (files.keyFile == nil) {
            throw RedisError(description: "PARLEY_REDIS_CERT_FILE and PARLEY_REDIS_KEY_FILE go together")
        }
    }

    /// Reads `REDIS_CLUSTER`: seed nodes of a Redis Cluster, `host:port,host:port,...`. The first may be a URL,
    /// `redis[s]://[user[:password]@]host:port`, whose scheme, user and password every seed then shares.
    public static func cluster(_ seeds: String, tls files: TLS = TLS()) throws -> [RedisEndpoint] {
        let items = seeds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = items.first else { throw RedisError(description: "REDIS_CLUSTER must name at least one host:port") }
        let template = try RedisEndpoint(url: first.contains("://") ? first : "redis://\(first)", tls: files)
        guard template.database == 0 else { throw RedisError(description: "a Redis Cluster has only database 0: REDIS_CLUSTER names none") }
        return try items.map { item in
            guard !item.contains("://") || item == first else {
                throw RedisError(description: "REDIS_CLUSTER gives a URL first only; the others are host:port, not '\(item)'")
            }
            let address = item == first ? "\(template.host):\(template.port)" : item
            guard let seed = RedisClusterTopology.Address(address), !seed.host.isEmpty else {
                throw RedisError(description: "REDIS_CLUSTER's seeds are host:port, not '\(item)'")
            }
            var endpoint = template
            (endpoint.host, endpoint.port) = (seed.host, seed.port)
            return endpoint
        }
    }

    /// The endpoint without its password, for logs and errors.
    public var description: String {
        "\(tls == nil ? "redis" : "rediss")://\(user.map { "\($0)@" } ?? "")\(host):\(port)\(database == 0 ? "" : "/\(database)")"
    }

    /// The client side of TLS: the CA to trust, the certificate to show, and the server's name to check.
    func tlsContext() throws -> NIOSSLContext? {
        guard let tls else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            if let caFile = tls.caFile { configuration.trustRoots = .file(caFile) }
            if let certificateFile = tls.certificateFile, let keyFile = tls.keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RedisError(description: "cannot set up TLS for \(self): \(error)")
        }
    }
}
