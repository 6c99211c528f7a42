import Hummingbird
import ParleyBus
import ParleyCore
import ParleyStore

/// Sending, paging, editing, deleting, reacting to, reading and searching messages.
struct MessageController {
    let store: any Store
    let events: EventPublisher
    let bus: any Bus
    let throttles: Throttles
    let attachments: FileAttachments

    struct Send: Decodable {
        let clientId: String
        let text: String?
        let files: [String]?
        let replyTo: Int64?
    }

    struct Read: Decodable {
        let seq: Int64
    }

    struct Edit: Decodable {
        let text: String
    }

    struct React: Decodable {
        let emoji: String
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("rooms/:room/messages", use: page)
        group.post("rooms/:room/messages", use: send)
        group.patch("rooms/:room/messages/:seq", use: edit)
        group.delete("rooms/:room/messages/:seq", use: delete)
        group.post("rooms/:room/messages/:seq/reactions", use: react)
        group.delete("rooms/:room/messages/:seq/reactions/:emoji", use: unreact)
        group.post("rooms/:room/read", use: read)
        group.get("search", use: search)
    }

    @Sendable func page(_ request: Request, context: AppRequestContext) async throws -> JSONBody<[Message]> {
        let page = Page(
            before: try Validate.seq(try request.integer("before"), field: "before"),
            after: try Validate.seq(try request.integer("after"), field: "after"),
            limit: try Validate.pageSize(try request.integer("limit").map(Int.init)))
        return JSONBody(try await store.messages(room: try context.parameters.require("room"), viewer: try context.caller(), page: page))
    }

    /// 201 with the stored message; a retried `clientId` answers 200 with the original.
    @Sendable func send(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Message> {
        let body = try await request.json(Send.self, context: context)
        try await throttles.spend(.send, by: try context.caller())
        let (room, sender, clientId) = (try context.parameters.require("room"), try context.caller(), try Validate.clientId(body.clientId))
        let message = try Validate.message(text: body.text ?? "", files: body.files ?? [])
        let replyTo = try Validate.seq(body.replyTo, field: "replyTo")
        let sent = try await attachments.send(
            room: room, sender: sender, clientId: clientId, text: message.text, files: message.files, replyTo: replyTo)
        // Acknowledged only now, after commit; the publish that follows may fail, and the outbox covers that.
        events.publish(sent.outbox)
        await events.mention(sent)
        return JSONBody(sent.message, status: sent.created ? .created : .ok)
    }

    /// The sender changes a message's text, under the rules of a new one's; the same text again answers as it is.
    @Sendable func edit(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Message> {
        let body = try await request.json(Edit.self, context: context)
        let actor = try context.caller()
        try await throttles.spend(.send, by: actor)
        let sent = try await store.editMessage(
            room: try context.parameters.require("room"), seq: try Self.seq(context), actor: actor, text: try Validate.text(body.text))
        events.publish(sent.outbox)
        return JSONBody(sent.message)
    }

    /// Adds the caller's emoji to a message: 201, or 200 when it was there already.
    @Sendable func react(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(React.self, context: context)
        return try await react(Validate.emoji(body.emoji), on: true, context: context)
    }

    /// Takes back the caller's emoji (percent-encoded in the path): 204 whether or not it was there, so that what
    /// was never an emoji is simply not there.
    @Sendable func unreact(_ request: Request, context: AppRequestContext) async throws -> Response {
        let emoji = try context.parameters.require("emoji")
        return try await react(emoji.removingPercentEncoding ?? emoji, on: false, context: context)
    }

    private func react(_ emoji: String, on: Bool, context: AppRequestContext) async throws -> Response {
        let user = try context.caller()
        try await throttles.spend(.send, by: user)
        let outbox = try await store.react(room: try context.parameters.require("room"), seq: try Self.seq(context), user: user, emoji: emoji, on: on)
        events.publish(outbox)
        return Response(status: on ? (outbox == nil ? .ok : .created) : .noContent)
    }

    /// `?q=` (its words, each as the start of a word), `&room=`, `&limit=`, `&offset=`: the caller's messages that
    /// hold them, best match first; `next` is the offset of the next page, or null after the last.
    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> JSONBody<SearchResults> {
        let parameters = request.uri.queryParameters
        let query = try SearchQuery(
            parameters.get("q") ?? "", room: parameters.get("room"), limit: try request.integer("limit").map(Int.init),
            offset: try request.integer("offset").map(Int.init))
        let user = try context.caller()
        try await throttles.spend(.search, by: user)
        let found = try await store.search(query, viewer: user)
        // A full page has a next one, up to the last offset served.
        let next = query.offset + query.limit
        return JSONBody(SearchResults(messages: found, next: found.count == query.limit && next <= SearchQuery.maxOffset ? next : nil))
    }

    struct SearchResults: Encodable {
        let messages: [Message]
        let next: Int?

        enum CodingKeys: String, CodingKey { case messages, next }

        // `next` is written as null after the last page, rather than left out.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(messages, forKey: .messages)
            try container.encode(next, forKey: .next)
        }
    }

    private static func seq(_ context: AppRequestContext) throws -> Int64 {
        guard let seq = Int64(try context.parameters.require("seq")), seq > 0 else { throw ParleyError.notFound("message") }
        return seq
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Message> {
        let sent = try await store.deleteMessage(room: try context.parameters.require("room"), seq: try Self.seq(context), actor: try context.caller())
        events.publish(sent.outbox)
        await attachments.removeBytes(of: sent)
        return JSONBody(sent.message)
    }

    @Sendable func read(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Read.self, context: context)
        guard body.seq >= 0 else { throw ParleyError.invalid("seq", "must not be negative") }
        let room = try context.parameters.require("room")
        let user = try context.caller()
        try await throttles.spend(.send, by: user)
        if let unread = try await store.markRead(room: room, user: user, seq: body.seq) {
            try? await events.read(room: room, user: user, seq: body.seq, unread: unread)
        }
        return Response(status: .noContent)
    }
}
