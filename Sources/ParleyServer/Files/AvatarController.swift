import Foundation
import HTTPTypes
import Hummingbird
import ParleyCore
import ParleyFiles
import ParleyStore

/// Pictures of users: set and cleared by their owner, and served to anyone at an unguessable, never-changing path
/// (a new picture gets a new one), so that browsers and caches keep them.
struct AvatarController {
    let store: any Store
    let blobs: any BlobStore
    let throttles: Throttles
    /// The largest picture.
    static let maxBytes: Int64 = 1 << 20
    /// The picture types taken, by their magic bytes, with the extension their names carry.
    static let types = ["image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"]

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.put("me/avatar", use: set)
        group.delete("me/avatar", use: clear)
    }

    func addPublicRoutes(to router: Router<AppRequestContext>) {
        router.get("api/avatars/:name", use: image)
    }

    /// Takes a PNG, JPEG or WebP picture of at most 1 MiB, streamed, and answers the user with its new `avatar`.
    @Sendable func set(_ request: Request, context: AppRequestContext) async throws -> JSONBody<User> {
        guard let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > 0 else {
            throw ParleyError(.badRequest, "a picture needs a Content-Length")
        }
        guard length <= Self.maxBytes else { throw ParleyError(.tooLarge, "a picture may hold at most 1 MiB") }
        try await throttles.spend(.upload, by: try context.caller())
        let head = HeadBytes()
        // Its name is its key and its type's extension; the type is known only once its first bytes have come.
        let id = Identifier.make("a")
        do {
            try await blobs.write(key: Self.key(id), size: length, contentType: "application/octet-stream", body: head.watching(request.body))
        } catch let error as BlobStoreError where error.kind == .sizeMismatch {
            throw ParleyError.invalid("body", "must be the \(length) bytes of its Content-Length")
        }
        guard let ext = Self.types.first(where: { FileRules.bytes(head.bytes, match: $0.key) })?.value else {
            try await blobs.delete(key: Self.key(id))
            throw ParleyError.invalid("body", "must be a PNG, JPEG or WebP picture")
        }
        // Kept under its whole name, so that no other extension serves it as another type.
        try await blobs.copy(from: Self.key(id), to: Self.key("\(id).\(ext)"))
        try await blobs.delete(key: Self.key(id))
        let (user, replaced) = try await store.setAvatar(of: try context.caller(), to: "\(id).\(ext)")
        if let replaced { try? await blobs.delete(key: Self.key(replaced)) }
        return JSONBody(user)
    }

    /// Removes the caller's picture: clients show their initials.
    @Sendable func clear(_ request: Request, context: AppRequestContext) async throws -> JSONBody<User> {
        let (user, replaced) = try await store.setAvatar(of: try context.caller(), to: nil)
        if let replaced { try? await blobs.delete(key: Self.key(replaced)) }
        return JSONBody(user)
    }

    /// Where a picture's bytes are: by its name (`a_ID.png`), or by its id while it comes in.
    static func key(_ name: String) -> String { "avatars/\(name)" }

    /// A picture, to anyone who has its path; it never changes, so caches keep it.
    @Sendable func image(_ request: Request, context: AppRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let parts = name.split(separator: ".")
        guard parts.count == 2, parts[0].hasPrefix("a_"), parts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
            let type = Self.types.first(where: { $0.value == parts[1] })?.key,
            let body = try await blobs.read(key: Self.key(name), offset: 0, length: nil)
        else { throw ParleyError.notFound("picture") }
        return Response(
            status: .ok,
            headers: [
                .contentType: type, .contentLength: String(body.size), .cacheControl: "public, max-age=31536000, immutable",
                .contentDisposition: "inline",
            ],
            body: ResponseBody(asyncSequence: body.chunks))
    }
}
