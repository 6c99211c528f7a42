import AsyncHTTPClient
import Foundation
import Logging
import ParleyFiles
import ParleyBus
import ParleyStore

/// Postgres when `DATABASE_URL` is set, else SQLite in a file.
func makeStore(_ configuration: Configuration, logger: Logger) async throws -> SQLStore {
    if let url = configuration.databaseURL {
        return try SQLStore.postgres(
            url: url, warmConnections: configuration.databaseWarmConnections, applicationName: "parley \(configuration.nodeId)",
            logger: logger)
    }
    return try await SQLStore.sqlite(path: configuration.sqlitePath, logger: logger)
}

/// A Redis Cluster when `REDIS_CLUSTER` is set, one Redis when `REDIS_URL` is, else the in-process bus.
func makeBus(_ configuration: Configuration, logger: Logger) throws -> any Bus {
    let tls = RedisEndpoint.TLS(
        caFile: configuration.redisCAFile, certificateFile: configuration.redisCertificateFile, keyFile: configuration.redisKeyFile)
    if let seeds = configuration.redisCluster {
        guard configuration.redisURL == nil else { throw ConfigurationError("set REDIS_URL or REDIS_CLUSTER, not both") }
        return RedisBus(cluster: try RedisEndpoint.cluster(seeds, tls: tls), logger: logger)
    }
    guard let url = configuration.redisURL else { return LocalBus() }
    return RedisBus(endpoint: try RedisEndpoint(url: url, tls: tls), logger: logger)
}

/// The configured secret; in embedded mode, one generated on first start and kept beside the SQLite file.
func jwtSecret(_ configuration: Configuration) throws -> String {
    if let secret = configuration.jwtSecret {
        // HS256 wants a key at least as long as its hash.
        guard secret.utf8.count >= 32 else { throw ConfigurationError("PARLEY_JWT_SECRET must be at least 32 bytes long") }
        return secret
    }
    guard configuration.databaseURL == nil else {
        throw ConfigurationError("PARLEY_JWT_SECRET is required when DATABASE_URL is set: every node must sign with the same key")
    }
    let path = configuration.sqlitePath + ".jwt-secret"
    if let secret = try? String(contentsOfFile: path, encoding: .utf8), !secret.isEmpty {
        return secret.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let secret = Tokens.newRefreshSecret()
    guard FileManager.default.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw ConfigurationError("cannot write the signing key to \(path); set PARLEY_JWT_SECRET or PARLEY_SQLITE_PATH")
    }
    return secret
}

/// Where files' bytes go: `PARLEY_FILES`, else `parley-files/` beside the SQLite file.
func makeBlobStore(_ configuration: Configuration) throws -> any BlobStore {
    let folder = URL(fileURLWithPath: configuration.sqlitePath).deletingLastPathComponent().appendingPathComponent("parley-files").path
    switch try BlobStoreLocation(configuration.files ?? "dir:\(folder)") {
    case .directory(let path):
        return try DirectoryBlobStore(root: URL(fileURLWithPath: path))
    case .s3(let bucket, let endpoint, let region, let publicEndpoint):
        guard let access = configuration.s3AccessKey, let secret = configuration.s3SecretKey else {
            throw ConfigurationError("PARLEY_FILES=s3://... needs PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY")
        }
        return try S3BlobStore(
            bucket: bucket, endpoint: endpoint, region: region, accessKey: access, secretKey: secret, publicEndpoint: publicEndpoint,
            http: .shared)
    }
}

/// The origins a browser sends files' bytes to and fetches them from besides the node's own: the bucket's public
/// address, with `s3://`.
func fileOrigins(_ configuration: Configuration) throws -> [String] {
    guard let files = configuration.files, case .s3(_, let endpoint, _, let publicEndpoint) = try BlobStoreLocation(files),
        let url = URLComponents(string: publicEndpoint ?? endpoint), let scheme = url.scheme, let host = url.host
    else { return [] }
    return ["\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")]
}
