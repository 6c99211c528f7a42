import Hummingbird
import ParleyCore
import ParleyStore

/// Contacts, each with the direct room its two users share.
struct ContactController {
    let store: any Store
    let events: RoomEvents
    let throttles: Throttles

    struct Add: Decodable {
        let username: String
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("contacts", use: list)
        group.post("contacts", use: add)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONBody<[Contact]> {
        JSONBody(try await store.contacts(of: try context.caller()))
    }

    /// 201 with the new contact; 200 with the same answer when the two are contacts already.
    @Sendable func add(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Contact> {
        let body = try await request.json(Add.self, context: context)
        let username = try Validate.username(body.username)
        let caller = try context.caller()
        try await throttles.spend(.creation, by: caller)
        let result = try await store.addContact(owner: caller, username: username)
        if result.created { await events.roomAdded(result.contact.room, for: [caller, result.contact.user.id], by: caller) }
        return JSONBody(result.contact, status: result.created ? .created : .ok)
    }
}
