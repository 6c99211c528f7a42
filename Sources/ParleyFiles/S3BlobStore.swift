import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Blobs in an S3-compatible bucket (AWS S3, MinIO, Spaces, R2), addressed path-style (`ENDPOINT/BUCKET/KEY`), which
/// every such store takes. Parley's own requests are signed in their headers; clients get presigned URLs and move
/// the bytes straight to and from the bucket.
public struct S3BlobStore: BlobStore {
    public let bucket: String
    public let endpoint: URL
    /// Where clients reach the store; the endpoint, unless it is only reachable from the nodes.
    public let publicEndpoint: URL
    let signer: SignatureV4
    let http: HTTPClient
    /// How long a request of Parley's own to the bucket may take.
    static let timeout: TimeAmount = .seconds(60)

    public init(
        bucket: String, endpoint: String, region: String, accessKey: String, secretKey: String, publicEndpoint: String? = nil, http: HTTPClient
    ) throws {
        guard let url = URL(string: endpoint), url.host != nil, let clients = URL(string: publicEndpoint ?? endpoint), clients.host != nil else {
            throw BlobStoreError(.unavailable, "bad S3 endpoint \(endpoint)")
        }
        self.bucket = bucket
        self.endpoint = url
        self.publicEndpoint = clients
        self.signer = SignatureV4(accessKey: accessKey, secretKey: secretKey, region: region)
        self.http = http
    }

    /// `host` or `host:port`, as the `Host` header carries it.
    var host: String { Self.host(endpoint) }
    var publicHost: String { Self.host(publicEndpoint) }

    static func host(_ url: URL) -> String { url.port.map { "\(url.host!):\($0)" } ?? url.host! }

    func path(_ key: String) -> String { "/\(SignatureV4.encode(bucket))/\(SignatureV4.encodePath(key))" }

    func url(_ path: String, query: String, public: Bool = false) -> String {
        let base = `public` ? publicEndpoint : endpoint
        return "\(base.scheme ?? "https")://\(Self.host(base))\(path)" + (query.isEmpty ? "" : "?\(query)")
    }

    // MARK: Presigned

    public func directUpload(key: String, size: Int64, contentType: String, expires: TimeInterval, now: Date) -> DirectRequest? {
        // The size and the content type are signed: the bucket refuses an upload whose Content-Length or Content-Type
        // is not the one declared, before it stores a byte. Any client sends the Content-Length of the bytes it sends,
        // so only the type is a header to set.
        let request = SignatureV4.Request(
            method: "PUT", host: publicHost, path: path(key), headers: [("content-length", String(size)), ("content-type", contentType)])
        let query = signer.presignedQuery(request, expires: Int(expires), at: now)
        return DirectRequest(method: "PUT", url: url(request.path, query: query, public: true), headers: ["Content-Type": contentType])
    }

    public func directDownload(key: String, filename: String, contentType: String, inline: Bool, expires: TimeInterval, now: Date) -> DirectRequest? {
        let request = SignatureV4.Request(
            method: "GET", host: publicHost, path: path(key),
            query: [
                ("response-content-disposition", ContentDisposition.header(filename: filename, inline: inline)),
                ("response-content-type", contentType),
            ])
        return DirectRequest(
            method: "GET", url: url(request.path, query: signer.presignedQuery(request, expires: Int(expires), at: now), public: true))
    }

    // MARK: Parley's own requests

    public func write<Body: AsyncSequence & Sendable>(key: String, size: Int64, contentType: String, body: Body) async throws
    where Body.Element == ByteBuffer {
        let counted = CountedBody(body: body, size: size)
        do {
            let response = try await send(
                "PUT", key, headers: [("content-type", contentType), ("content-length", String(size))],
                body: .stream(counted, length: .known(size)))
            guard (200..<300).contains(response.status.code) else { throw await failure(response, "PUT") }
        } catch {
            // A body longer than declared may have been stored cut at the declared size before the rest came.
            try? await delete(key: key)
            throw error
        }
    }

    public func read(key: String, offset: Int64, length: Int64?) async throws -> BlobBody? {
        var headers: [(String, String)] = []
        if offset > 0 || length != nil {
            headers.append(("range", "bytes=\(offset)-" + (length.map { String(offset + $0 - 1) } ?? "")))
        }
        let response = try await send("GET", key, headers: headers)
        if response.status == .notFound { return nil }
        if response.status == .rangeNotSatisfiable { return BlobBody(size: 0, chunks: BlobChunks { nil }) }
        guard response.status == .ok || response.status == .partialContent else { throw await failure(response, "GET") }
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        let iterator = ResponseChunks(response.body.makeAsyncIterator())
        return BlobBody(size: size, chunks: BlobChunks { try await iterator.next() })
    }

    public func info(key: String) async throws -> BlobInfo? {
        let response = try await send("HEAD", key)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw await failure(response, "HEAD") }
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        return BlobInfo(size: size, contentType: response.headers.first(name: "content-type"))
    }

    public func delete(key: String) async throws {
        let response = try await send("DELETE", key)
        guard (200..<300).contains(response.status.code) || response.status == .notFound else { throw await failure(response, "DELETE") }
    }

    /// S3's CopyObject: the bucket copies the bytes itself.
    public func copy(from source: String, to target: String) async throws {
        let response = try await send("PUT", target, headers: [("x-amz-copy-source", path(source))])
        guard response.status == .ok else { throw await failure(response, "COPY") }
    }

    /// Creates the bucket, for tests and first runs; one that exists already is fine.
    public func createBucket() async throws {
        let request = SignatureV4.Request(method: "PUT", host: host, path: "/\(SignatureV4.encode(bucket))")
        let response = try await execute(request, body: nil)
        guard (200..<300).contains(response.status.code) || response.status == .conflict else { throw await failure(response, "PUT bucket") }
    }

    private func send(
        _ method: String, _ key: String, headers: [(String, String)] = [], body: HTTPClientRequest.Body? = nil
    ) async throws -> HTTPClientResponse {
        try await execute(SignatureV4.Request(method: method, host: host, path: path(key), headers: headers), body: body)
    }

    private func execute(_ request: SignatureV4.Request, body: HTTPClientRequest.Body?) async throws -> HTTPClientResponse {
        let query = SignatureV4.canonicalQuery(request.query)
        var outgoing = HTTPClientRequest(url: url(request.path, query: query))
        outgoing.method = HTTPMethod(rawValue: request.method)
        // A streamed body is not hashed: S3 takes UNSIGNED-PAYLOAD, and TLS protects the bytes.
        let payload = body == nil ? SignatureV4.emptyPayload : SignatureV4.unsignedPayload
        for (name, value) in request.headers + signer.authorization(request, payloadHash: payload, at: Date()) {
            outgoing.headers.add(name: name, value: value)
        }
        outgoing.body = body
        do {
            return try await http.execute(outgoing, timeout: Self.timeout)
        } catch {
            throw BlobStoreError(.unavailable, "the bucket cannot be reached: \(error)")
        }
    }

    private func failure(_ response: HTTPClientResponse, _ what: String) async -> BlobStoreError {
        let text = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
        return BlobStoreError(.unavailable, "the bucket answered \(what) with \(response.status.code): \(text.prefix(300))")
    }
}

/// A body that must come to exactly `size` bytes, failing when it does not, so that the store is never left with a
/// blob of another size than was declared.
struct CountedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let body: Base
    let size: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let size: Int64
        var seen: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                guard seen == size else { throw BlobStoreError(.sizeMismatch, "\(seen) bytes, not the \(size) declared") }
                return nil
            }
            seen += Int64(chunk.readableBytes)
            guard seen <= size else { throw BlobStoreError(.sizeMismatch, "more than the \(size) bytes declared") }
            // The declared size reached: the body must end here, checked before the last chunk goes, since the
            // HTTP client stops reading at the length it was given.
            if seen == size, try await base.next() != nil {
                throw BlobStoreError(.sizeMismatch, "more than the \(size) bytes declared")
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator(), size: size) }
}

/// A response body's iterator, taken one chunk at a time by whoever reads the blob.
private final class ResponseChunks: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private let lock = NSLock()

    init(_ iterator: HTTPClientResponse.Body.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> ByteBuffer? {
        // Chunks are read in turn by one reader; the lock only keeps the iterator's state whole.
        var iterator = lock.withLock { self.iterator }
        let chunk = try await iterator.next()
        lock.withLock { self.iterator = iterator }
        return chunk
    }
}

/// `Content-Disposition` for a download: `inline` for what a browser shows (images, audio, video), `attachment`
/// otherwise, with the name as ASCII and, where it is more, as RFC 5987 UTF-8.
public enum ContentDisposition {
    public static func header(filename: String, inline: Bool) -> String {
        let ascii = String(filename.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" ? Character($0) : "_" })
        var header = "\(inline ? "inline" : "attachment"); filename=\"\(ascii)\""
        if ascii != filename { header += "; filename*=UTF-8''\(SignatureV4.encode(filename))" }
        return header
    }
}
