import HTTPTypes
import Hummingbird

/// The headers every response carries, REST, static files and refused upgrades alike: the web client runs under a
/// strict Content-Security-Policy (its scripts and styles are files of its own origin, never inline), may not be
/// framed, is never sniffed as another type, and sends no referrer. The page may also connect to the origins in
/// `connectSources`: the bucket that files go to and come from. A response that sets a policy of its own (a file's
/// bytes) keeps it.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = AppRequestContext

    let fields: [(HTTPField.Name, String)]

    init(connectSources: [String] = []) {
        fields = Self.fields(contentSecurityPolicy: Self.contentSecurityPolicy(connectSources: connectSources))
    }

    static func contentSecurityPolicy(connectSources: [String] = []) -> String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            + "connect-src \((["'self'"] + connectSources).joined(separator: " ")); object-src 'none'; base-uri 'none'; form-action 'self'; "
            + "frame-ancestors 'none'"
    }

    static let contentSecurityPolicy = contentSecurityPolicy()

    static func fields(contentSecurityPolicy: String) -> [(HTTPField.Name, String)] {
        [
            (.contentSecurityPolicy, contentSecurityPolicy),
            (.xContentTypeOptions, "nosniff"),
            (.referrerPolicy, "no-referrer"),
            (.xFrameOptions, "DENY"),
        ]
    }

    /// The same headers as CRLF-ended lines, for responses written by hand (`FirstRequestHandler`).
    static let lines = fields(contentSecurityPolicy: contentSecurityPolicy).map { "\($0.0.rawName): \($0.1)\r\n" }.joined()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for (name, value) in fields where name != .contentSecurityPolicy || response.headers[name] == nil {
            response.headers[name] = value
        }
        return response
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
