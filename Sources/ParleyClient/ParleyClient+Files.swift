import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ParleyCore

/// A file announced to a room: what Parley will call it, and where its bytes go.
public struct AnnouncedFile: Decodable, Sendable {
    public var file: FileRef
    public var upload: Upload

    /// Where to send the bytes: a path on Parley (relative to its base URL) or an absolute presigned URL of a bucket,
    /// with the method and headers it takes. It needs no Authorization: the URL carries its own signature.
    public struct Upload: Decodable, Sendable {
        public var url: String
        public var method: String
        public var headers: [String: String]
        public var expiresAt: Timestamp
    }
}

/// A file's bytes on their way down, lent to the closure of `ParleyClient.download`.
public struct FileDownload: Sendable {
    /// The name the server gives it (`Content-Disposition`), as sent: not yet safe to use as a path.
    public var filename: String?
    public var contentType: String?
    /// The byte count, when the server says (`Content-Length`).
    public var size: Int64?
    public var body: HTTPClientResponse.Body
}

extension ParleyClient {
    /// Announces a file to a room, before its bytes: 413 `too_large` over the server's limit, 404 for a non-member.
    public func announceFile(room: String, name: String, size: Int64, contentType: String) async throws -> AnnouncedFile {
        struct Body: Encodable {
            let name: String
            let size: Int64
            let contentType: String
        }
        return try await request(.POST, "/api/rooms/\(room)/files", Body(name: name, size: size, contentType: contentType))
    }

    /// Sends an announced file's bytes from `path`, read a chunk at a time, so that no more than a chunk is ever held.
    /// `progress` is told the bytes sent so far after each chunk.
    public func upload(
        _ target: AnnouncedFile.Upload, size: Int64, from path: String, progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws {
        let chunks = try FileChunks(path: path, size: size, progress: progress)
        var request = HTTPClientRequest(url: resolve(target.url))
        request.method = HTTPMethod(rawValue: target.method)
        for (name, value) in target.headers { request.headers.add(name: name, value: value) }
        request.body = .stream(chunks, length: .known(size))
        // The deadline runs until the answer's head, which comes once the whole body is in: time for 32 KiB/s.
        let response = try await http.execute(request, timeout: .seconds(max(300, size / (32 * 1024))))
        let answer = Data(buffer: try await response.body.collect(upTo: 64 * 1024))
        guard (200..<300).contains(response.status.code) else { throw ParleyClientError(status: response.status, body: answer) }
    }

    /// The short-lived link to a file's bytes: the Location of `GET /api/files/{id}`, read without following it, so
    /// that the access token never leaves for another host.
    public func fileLink(_ id: String) async throws -> String {
        var request = HTTPClientRequest(url: baseURL + "/api/files/\(id)")
        if let token = currentSession?.accessToken { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await HTTPClient.withHTTPClient(configuration: HTTPClient.Configuration(redirectConfiguration: .disallow)) { http in
            let response = try await http.execute(request, timeout: .seconds(30))
            let body = Data(buffer: try await response.body.collect(upTo: 64 * 1024))
            guard (300..<400).contains(response.status.code), let location = response.headers.first(name: "Location") else {
                guard (200..<300).contains(response.status.code) else { throw ParleyClientError(status: response.status, body: body) }
                throw ParleyClientError(status: Int(response.status.code), code: .internal, message: "the server sent no link to the file")
            }
            return resolve(location)
        }
    }

    /// Fetches a file: its link with the access token, then the bytes from the link without it. The download is
    /// lent to `body`, which reads it as it arrives.
    public func download<T: Sendable>(_ id: String, _ body: (FileDownload) async throws -> T) async throws -> T {
        try await download(from: try await fileLink(id), body)
    }

    /// Fetches the bytes behind a link of `fileLink`, without the access token, and lends the download to `body`.
    public func download<T: Sendable>(from link: String, _ body: (FileDownload) async throws -> T) async throws -> T {
        // The deadline runs until the answer's head; the bytes then take as long as they take.
        let response = try await http.execute(HTTPClientRequest(url: link), timeout: .seconds(60))
        guard response.status == .ok else {
            throw ParleyClientError(status: response.status, body: Data(buffer: try await response.body.collect(upTo: 64 * 1024)))
        }
        let download = FileDownload(
            filename: response.headers.first(name: "Content-Disposition").flatMap(ContentDisposition.filename),
            contentType: response.headers.first(name: "Content-Type"),
            size: response.headers.first(name: "Content-Length").flatMap { Int64($0) },
            body: response.body)
        return try await body(download)
    }

    /// An upload or download URL as Parley gives it: a path on Parley itself, or an absolute URL of a bucket.
    func resolve(_ url: String) -> String {
        url.hasPrefix("/") ? baseURL + url : url
    }
}

/// The file name of a `Content-Disposition` header: its RFC 5987 `filename*` (UTF-8) when it has one, else its
/// `filename`.
enum ContentDisposition {
    static func filename(_ header: String) -> String? {
        var plain: String?
        for parameter in parameters(header) {
            switch parameter.name {
            case "filename*":
                let parts = parameter.value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if parts.count == 3, parts[0].lowercased() == "utf-8", let name = String(parts[2]).removingPercentEncoding { return name }
            case "filename":
                plain = parameter.value
            default:
                break
            }
        }
        return plain
    }

    /// `name=value` pairs after the disposition type; quoted values unquoted.
    private static func parameters(_ header: String) -> [(name: String, value: String)] {
        var result: [(String, String)] = []
        var rest = Substring(header)
        guard let start = rest.firstIndex(of: ";") else { return [] }
        rest = rest[rest.index(after: start)...]
        while !rest.isEmpty {
            rest = rest.drop(while: { $0 == " " || $0 == ";" })
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        value.append(escaped)
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                rest = rest.dropFirst()
                rest = rest.drop(while: { $0 != ";" })
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            result.append((name, value))
        }
        return result
    }
}

/// A file's bytes as chunks read on demand, each when the one before has been sent: the body of an upload. It
/// ends at `size` bytes, and fails if the file has shrunk meanwhile.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    static let chunk = 64 * 1024

    let reader: Reader

    init(path: String, size: Int64, progress: @escaping @Sendable (Int64) -> Void) throws {
        guard let file = FileHandle(forReadingAtPath: path) else { throw ParleyClientError.local("cannot read \(path)") }
        reader = Reader(file: file, size: size, progress: progress)
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let reader: Reader
        mutating func next() async throws -> ByteBuffer? { try reader.next() }
    }

    /// The open file and how far it has been read. A class, so that the body's one iterator and its owner share it;
    /// `@unchecked Sendable` because only that iterator reads it, one chunk after the other, under the lock.
    final class Reader: @unchecked Sendable {
        private let file: FileHandle
        private let size: Int64
        private let progress: @Sendable (Int64) -> Void
        private let lock = NSLock()
        private var sent: Int64 = 0

        init(file: FileHandle, size: Int64, progress: @escaping @Sendable (Int64) -> Void) {
            (self.file, self.size, self.progress) = (file, size, progress)
        }

        func next() throws -> ByteBuffer? {
            let (chunk, total) = try lock.withLock { () throws -> (ByteBuffer?, Int64) in
                guard self.sent < size else { return (nil, self.sent) }
                let count = Int(Swift.min(Int64(FileChunks.chunk), size - self.sent))
                guard let data = try file.read(upToCount: count), !data.isEmpty else {
                    throw ParleyClientError.local("the file ended after \(self.sent) of its \(size) bytes")
                }
                self.sent += Int64(data.count)
                return (ByteBuffer(data: data), self.sent)
            }
            if chunk != nil { progress(total) }
            return chunk
        }

        deinit { try? file.close() }
    }
}

extension ParleyClientError {
    /// A failure on this side of the wire, such as a file that cannot be read.
    static func local(_ message: String) -> ParleyClientError {
        ParleyClientError(status: 0, code: .badRequest, message: message)
    }
}
