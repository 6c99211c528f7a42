import Hummingbird
import ParleyCore
import ParleyStore

/// The caller, and the search for other users.
struct UserController {
    let store: any Store

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("me", use: me)
        group.get("users", use: search)
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
}

extension Request {
    /// An optional integer query parameter; present but not an integer is `invalid_field`.
    func integer(_ name: String) throws -> Int64? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text) else { throw ParleyError.invalid(name, "must be a whole number") }
        return value
    }
}
