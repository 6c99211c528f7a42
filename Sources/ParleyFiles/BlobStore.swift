import Foundation
import NIOCore

/// Where files' bytes live: a folder (`dir:PATH`, the embedded default) or an S3-compatible bucket
/// (`s3://BUCKET?endpoint=URL&region=REGION`). Keys are Parley's own (`files/ROOM/FILE`), never a user's file name.
///
/// Bytes stream through in chunks both ways: no implementation holds a whole blob in memory.
public protocol BlobStore: Sendable {
    /// Where a client sends a new blob's bytes itself, straight to the store: a presigned PUT. Nil when the bytes go
    /// through Parley's own upload route (`write`).
    func directUpload(key: String, size: Int64, contentType: String, expires: TimeInterval, now: Date) -> DirectRequest?

    /// Where a client fetches a blob's bytes itself: a presigned GET that names the file and says how to show it.
    /// Nil when Parley serves them (`read`).
    func directDownload(key: String, filename: String, contentType: String, inline: Bool, expires: TimeInterval, now: Date) -> DirectRequest?

    /// Stores the chunks as the blob `key`, which must come to `size` bytes; a shorter or longer body fails and
    /// leaves nothing stored. A folder refuses a key it holds already (`exists`); a bucket replaces it.
    func write<Body: AsyncSequence & Sendable>(key: String, size: Int64, contentType: String, body: Body) async throws
    where Body.Element == ByteBuffer

    /// The blob's bytes in chunks, from `offset` and at most `length` of them; nil when there is no such blob.
    func read(key: String, offset: Int64, length: Int64?) async throws -> BlobBody?

    /// The blob's size and stored content type, or nil when there is none.
    func info(key: String) async throws -> BlobInfo?

    /// Removes the blob; removing one that is not there succeeds.
    func delete(key: String) async throws

    /// Copies a blob to another key, inside the store.
    func copy(from source: String, to target: String) async throws
}

/// A request a client makes to the store itself.
public struct DirectRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [String: String]

    public init(method: String, url: String, headers: [String: String] = [:]) {
        (self.method, self.url, self.headers) = (method, url, headers)
    }
}

public struct BlobInfo: Sendable, Equatable {
    public var size: Int64
    public var contentType: String?

    public init(size: Int64, contentType: String?) {
        (self.size, self.contentType) = (size, contentType)
    }
}

/// A blob's bytes as they come, with its size. Pulled: each chunk is read when the one before has been taken, so
/// that a slow reader holds back the store rather than fill memory.
public struct BlobBody: Sendable {
    public var size: Int64
    public var chunks: BlobChunks

    public init(size: Int64, chunks: BlobChunks) {
        (self.size, self.chunks) = (size, chunks)
    }
}

/// Chunks read one at a time, on demand, by `next`; nil at the end.
public struct BlobChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let next: @Sendable () async throws -> ByteBuffer?

    public init(next: @escaping @Sendable () async throws -> ByteBuffer?) {
        self.next = next
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let next: @Sendable () async throws -> ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? { try await next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(next: next) }
}

/// A blob store refused or failed.
public struct BlobStoreError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case sizeMismatch, unavailable, exists }
    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        (self.kind, self.description) = (kind, description)
    }
}

/// `PARLEY_FILES`: which store, and where.
public enum BlobStoreLocation: Sendable, Equatable {
    case directory(String)
    case s3(bucket: String, endpoint: String, region: String, publicEndpoint: String? = nil)

    /// `dir:PATH` or `s3://BUCKET?endpoint=URL&region=REGION&public=URL` (the endpoint defaults to AWS's for the
    /// region, the region to us-east-1). `public` is where clients reach the store, when not at `endpoint` (a
    /// MinIO the nodes reach inside a private network): presigned URLs are signed for it.
    public init(_ text: String) throws {
        if text.hasPrefix("dir:") {
            let path = String(text.dropFirst("dir:".count))
            guard !path.isEmpty else { throw BlobStoreError(.unavailable, "PARLEY_FILES=dir: needs a path") }
            self = .directory(path)
            return
        }
        guard let url = URLComponents(string: text), url.scheme == "s3", let bucket = url.host, !bucket.isEmpty else {
            throw BlobStoreError(.unavailable, "PARLEY_FILES must be dir:PATH or s3://BUCKET?endpoint=URL&region=REGION")
        }
        let query = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { $1 }
        let region = query["region"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        let endpoint = query["endpoint"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://s3.\(region).amazonaws.com"
        let publicEndpoint = query["public"].flatMap { $0.isEmpty ? nil : $0 }
        for url in [endpoint] + (publicEndpoint.map { [$0] } ?? []) where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw BlobStoreError(.unavailable, "the S3 endpoints must be http:// or https:// URLs")
        }
        self = .s3(bucket: bucket, endpoint: endpoint, region: region, publicEndpoint: publicEndpoint)
    }
}
