import HTTPTypes
import Hummingbird

/// The headers every response carries, REST, static files and refused upgrades alike: the web client runs under a
/// strict Content-Security-Policy (its scripts and styles are files of its own origin, never inline), may not be
/// framed, is never sniffed as another type, and sends no referrer.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = AppRequestContext

    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static let fields: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, contentSecurityPolicy),
        (.xContentTypeOptions, "nosniff"),
        (.referrerPolicy, "no-referrer"),
        (.xFrameOptions, "DENY"),
    ]

    /// The same headers as CRLF-ended lines, for responses written by hand (`FirstRequestHandler`).
    static let lines = fields.map { "\($0.0.rawName): \($0.1)\r\n" }.joined()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for (name, value) in Self.fields { response.headers[name] = value }
        return response
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
