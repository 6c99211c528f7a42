import Hummingbird
import ParleyCore

/// Requires `Authorization: Bearer <access token>` and puts the caller's id in the context.
struct Authenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: Tokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw ParleyError(.unauthorized, "an access token is required: Authorization: Bearer <token>")
        }
        var context = context
        context.userId = try await tokens.verify(String(header.dropFirst("Bearer ".count))).userId
        return try await next(request, context)
    }
}
