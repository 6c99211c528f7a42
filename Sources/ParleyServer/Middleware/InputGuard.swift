import Foundation
import Hummingbird
import ParleyCore

/// Refuses a request whose path or query holds a control character once percent-decoded (`%00` among them), with
/// `invalid_field`, before any route reads it: ids and queries reach the store as they came.
struct InputGuard: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path.contains("%"), Validate.holdsControls(path.removingPercentEncoding ?? path) {
            throw ParleyError.invalid("path", "may not hold control characters")
        }
        for (name, value) in request.uri.queryParameters {
            // Values come percent-decoded, names as they were sent.
            let field = String(name).removingPercentEncoding ?? String(name)
            try Validate.noControls(field, field: "query")
            try Validate.noControls(String(value), field: field)
        }
        return try await next(request, context)
    }
}
