import Hummingbird
import ParleyCore

/// Requires `Authorization: Bearer <access token>` of a live session, and puts the caller's id in the context.
struct Authenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: Tokens
    let sessions: Sessions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw ParleyError(.unauthorized, "an access token is required: Authorization: Bearer <token>")
        }
        var context = context
        let access = try await tokens.verify(String(header.dropFirst("Bearer ".count)))
        // The recorder's token opens its socket, and nothing else.
        guard access.userId != User.recorderId else { throw ParleyError(.unauthorized, "the recorder's token serves only its socket") }
        try await sessions.require(access)
        context.userId = access.userId
        return try await next(request, context)
    }
}
