import Hummingbird
import ParleyBus
import ParleyCore
import ParleyStore

/// Sending, paging, deleting and reading messages.
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
    }

    struct Read: Decodable {
        let seq: Int64
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("rooms/:room/messages", use: page)
        group.post("rooms/:room/messages", use: send)
        group.delete("rooms/:room/messages/:seq", use: delete)
        group.post("rooms/:room/read", use: read)
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
        let sent = try await attachments.send(room: room, sender: sender, clientId: clientId, text: message.text, files: message.files)
        // Acknowledged only now, after commit; the publish that follows may fail, and the outbox covers that.
        events.publish(sent.outbox)
        return JSONBody(sent.message, status: sent.created ? .created : .ok)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Message> {
        guard let seq = Int64(try context.parameters.require("seq")) else { throw ParleyError.notFound("message") }
        let sent = try await store.deleteMessage(room: try context.parameters.require("room"), seq: seq, actor: try context.caller())
        events.publish(sent.outbox)
        await attachments.removeBytes(of: sent)
        return JSONBody(sent.message)
    }

    @Sendable func read(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Read.self, context: context)
        guard body.seq >= 0 else { throw ParleyError.invalid("seq", "must not be negative") }
        let room = try context.parameters.require("room")
        let user = try context.caller()
        try await store.markRead(room: room, user: user, seq: body.seq)
        _ = try? await bus.publish(try Frames.encode(.read(room: room, user: user, seq: body.seq)), to: Channel.room(room))
        return Response(status: .noContent)
    }
}
