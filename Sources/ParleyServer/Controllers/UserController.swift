import Hummingbird
import ParleyBus
import ParleyCore
import ParleyStore

/// The caller, the search for other users, and whether the caller's contacts are online.
struct UserController {
    let store: any Store
    let bus: any Bus

    struct Online: Codable, Sendable {
        let user: String
        let online: Bool
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("me", use: me)
        group.get("users", use: search)
        group.get("presence", use: presence)
    }

    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> JSONBody<User> {
        guard let user = try await store.user(id: try context.caller()) else { throw ParleyError(.unauthorized, "unknown user") }
        return JSONBody(user)
    }

    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> JSONBody<[User]> {
        _ = try context.caller()
        let query = try Validate.query(request.uri.queryParameters.get("q") ?? "")
        let limit = try Validate.pageSize(try request.integer("limit").map(Int.init))
        return JSONBody(try await store.searchUsers(query, limit: limit))
    }

    /// A snapshot of the caller's contacts' presence; `presence` events keep it current on a live socket.
    @Sendable func presence(_ request: Request, context: AppRequestContext) async throws -> JSONBody<[Online]> {
        let contacts = try await store.contacts(of: try context.caller()).map(\.user.id)
        let online = try await bus.online(contacts)
        return JSONBody(contacts.map { Online(user: $0, online: online.contains($0)) })
    }
}

extension Request {
    /// An optional integer query parameter; present but not an integer is `invalid_field`.
    func integer(_ name: String) throws -> Int64? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text) else { throw ParleyError.invalid(name, "must be a whole number") }
        return value
    }
}
