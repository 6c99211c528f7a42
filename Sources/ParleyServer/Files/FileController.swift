import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyCore
import ParleyFiles
import ParleyStore

/// Files shared in rooms: announced by a member, uploaded (to Parley, or straight to the bucket with a presigned
/// URL), and fetched by members through short-lived links. Bytes stream through; none of a node's memory holds a
/// whole file.
struct FileController {
    let store: any Store
    let blobs: any BlobStore
    let signer: FileURLSigner
    let maxBytes: Int64
    /// The limit for the recorder's files, the recorded parts of meetings.
    let recordingMaxBytes: Int64
    let throttles: Throttles
    /// How long an upload or download link lasts.
    static let linkLifetime: TimeInterval = 15 * 60

    struct Announce: Decodable {
        let name: String
        let size: Int64
        let contentType: String
    }

    struct Announced: Encodable {
        struct Upload: Encodable {
            let url: String
            let method: String
            let headers: [String: String]
            let expiresAt: Timestamp
        }

        let file: FileRef
        let upload: Upload
    }

    /// The routes that need a signed-in member.
    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("rooms/:room/files", use: announce)
        group.get("files/:id", use: link)
    }

    /// The routes a signed link authorises by itself: the bytes, up and down, of a file kept in a folder.
    func addLinkRoutes(to router: Router<AppRequestContext>) {
        router.put("api/files/:id/content", use: upload)
        router.get("api/files/:id/content", use: download)
    }

    /// 201 with the file and where to send its bytes; 413 when it is over the size limit, before any byte comes.
    @Sendable func announce(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Announced> {
        let body = try await request.json(Announce.self, context: context)
        try await throttles.spend(.upload, by: try context.caller())
        guard body.size > 0 else { throw ParleyError.invalid("size", "must be at least 1 byte") }
        guard body.size <= maxBytes else { throw ParleyError(.tooLarge, "a file may hold at most \(maxBytes) bytes") }
        let file = StoredFile(
            ref: FileRef(
                id: Identifier.make("f"), name: try FileRules.name(body.name), size: body.size,
                contentType: try FileRules.contentType(body.contentType)),
            room: try context.parameters.require("room"), uploader: try context.caller(), createdAt: .now)
        return JSONBody(try await offer(file), status: .created)
    }

    /// Records an announced file, and says where its bytes go.
    func offer(_ file: StoredFile) async throws -> Announced {
        try await store.createFile(file)
        let expires = Date().addingTimeInterval(Self.linkLifetime)
        let direct = blobs.directUpload(
            key: file.uploadKey, size: file.ref.size, contentType: file.ref.contentType, expires: Self.linkLifetime, now: Date())
        let upload = Announced.Upload(
            url: direct?.url ?? signer.url(file.ref.id, action: "put", expires: expires), method: "PUT",
            headers: direct?.headers ?? ["Content-Type": file.ref.contentType], expiresAt: Timestamp(expires))
        return Announced(file: file.ref, upload: upload)
    }

    /// A member of the file's room is sent to a short-lived link to its bytes; anyone else gets 404.
    @Sendable func link(_ request: Request, context: AppRequestContext) async throws -> Response {
        // A file whose bytes are not in yet (or not yet checked, when they went to the bucket) has none to fetch.
        guard let file = try await store.file(try context.parameters.require("id"), viewer: try context.caller()), file.storedAt != nil else {
            throw ParleyError.notFound("file")
        }
        let direct = blobs.directDownload(
            key: file.key, filename: file.ref.name, contentType: file.ref.contentType, inline: FileRules.isInline(file.ref.contentType),
            expires: Self.linkLifetime, now: Date())
        let location = direct?.url ?? signer.url(file.ref.id, action: "get", expires: Date().addingTimeInterval(Self.linkLifetime))
        return Response(status: .found, headers: [.location: location, .cacheControl: "private, no-store"])
    }

    /// The bytes of an announced file, through a signed link: the declared size and type, all of it, once.
    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> Response {
        let file = try await linked(request, context, action: "put")
        guard file.storedAt == nil else { throw ParleyError(.conflict, "the file's bytes are in already") }
        guard let length = request.headers[.contentLength].flatMap({ Int64($0) }) else {
            throw ParleyError(.badRequest, "an upload needs a Content-Length")
        }
        let limit = file.uploader == User.recorderId ? recordingMaxBytes : maxBytes
        guard length <= limit else { throw ParleyError(.tooLarge, "a file may hold at most \(limit) bytes") }
        guard length == file.ref.size else { throw ParleyError.invalid("Content-Length", "must be the \(file.ref.size) bytes announced") }
        guard let type = request.headers[.contentType], (try? FileRules.contentType(type)) == file.ref.contentType else {
            throw ParleyError.invalid("Content-Type", "must be the \(file.ref.contentType) announced")
        }
        let head = HeadBytes()
        do {
            try await blobs.write(key: file.key, size: file.ref.size, contentType: file.ref.contentType, body: head.watching(request.body))
        } catch let error as BlobStoreError where error.kind == .sizeMismatch {
            throw ParleyError.invalid("body", "must be the \(file.ref.size) bytes announced")
        } catch let error as BlobStoreError where error.kind == .exists {
            // Another upload of the same file finished first.
            throw ParleyError(.conflict, "the file's bytes are in already")
        }
        guard FileRules.bytes(head.bytes, match: file.ref.contentType) else {
            try await blobs.delete(key: file.key)
            throw ParleyError.invalid("body", "is not \(file.ref.contentType)")
        }
        _ = try await store.markFileStored(file.ref.id, at: .now)
        return Response(status: .noContent)
    }

    /// A file's bytes through a signed link, with the headers that tell a browser how to show them.
    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        let file = try await linked(request, context, action: "get")
        guard file.storedAt != nil, let body = try await blobs.read(key: file.key, offset: 0, length: nil) else {
            throw ParleyError.notFound("file")
        }
        let inline = FileRules.isInline(file.ref.contentType)
        var headers: HTTPFields = [
            .contentType: file.ref.contentType, .contentLength: String(body.size),
            .contentDisposition: ContentDisposition.header(filename: file.ref.name, inline: inline),
            .cacheControl: "private, max-age=300",
        ]
        // Nothing a file holds runs in Parley's pages, whatever its type says.
        headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        return Response(status: .ok, headers: headers, body: ResponseBody(asyncSequence: body.chunks))
    }

    /// The file a signed link names, when the link is good; 403 when it is not, or has expired.
    private func linked(_ request: Request, _ context: AppRequestContext, action: String) async throws -> StoredFile {
        let id = try context.parameters.require("id")
        let query = request.uri.queryParameters
        guard query["action"].map(String.init) == action,
            signer.check(
                id, action: action, expires: query["expires"].map(String.init), signature: query["signature"].map(String.init), now: Date())
        else { throw ParleyError.forbidden("the link is not valid, or has expired") }
        guard let file = try await store.file(id, viewer: nil) else { throw ParleyError.notFound("file") }
        return file
    }
}

/// The first bytes of a body as it streams past, for the type check.
final class HeadBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var head: [UInt8] = []

    var bytes: [UInt8] { lock.withLock { head } }

    func watching<Base: AsyncSequence & Sendable>(_ base: Base) -> Watched<Base> where Base.Element == ByteBuffer {
        Watched(base: base, head: self)
    }

    fileprivate func see(_ chunk: ByteBuffer) {
        lock.withLock {
            guard head.count < FileRules.sniffLength else { return }
            head += chunk.readableBytesView.prefix(FileRules.sniffLength - head.count)
        }
    }

    struct Watched<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
        typealias Element = ByteBuffer
        let base: Base
        let head: HeadBytes

        struct AsyncIterator: AsyncIteratorProtocol {
            var base: Base.AsyncIterator
            let head: HeadBytes

            mutating func next() async throws -> ByteBuffer? {
                guard let chunk = try await base.next() else { return nil }
                head.see(chunk)
                return chunk
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), head: head) }
    }
}
