import Foundation
import NIOHTTP1
import ParleyCore

/// Checks a WebSocket upgrade before it happens: the access token travels in `Sec-WebSocket-Protocol`
/// (`parley.v1, bearer.<jwt>`), never in the URL, and a browser's `Origin` must be the node's own or allowed.
struct WebSocketAuthenticator: Sendable {
    static let subprotocol = "parley.v1"

    let tokens: Tokens
    let allowedOrigins: Set<String>

    /// Whom the upgrade request is for, in which session, and when their token expires; throws what refuses it.
    /// (Whether the session lives is the gateway's to check.)
    func authenticate(_ head: HTTPRequestHead) async throws -> Tokens.Access {
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.trimmingCharacters(in: .whitespaces) }
        guard offered.contains(Self.subprotocol) else {
            throw ParleyError(.badRequest, "offer the subprotocol \(Self.subprotocol)")
        }
        guard let bearer = offered.first(where: { $0.hasPrefix("bearer.") }) else {
            throw ParleyError(.unauthorized, "offer the access token as the subprotocol bearer.<token>")
        }
        if let origin = head.headers.first(name: "Origin"), !isAllowed(origin: origin, host: head.headers.first(name: "Host")) {
            throw ParleyError(.forbidden, "origin \(origin) is not allowed")
        }
        return try await tokens.verify(String(bearer.dropFirst("bearer.".count)))
    }

    /// The node's own origin (same host), or one of `PARLEY_ALLOWED_ORIGINS`. Only a browser page's origin
    /// (http or https) is checked: a page cannot forge another, while native clients, such as the CLI, send none
    /// or a ws: one.
    private func isAllowed(origin: String, host: String?) -> Bool {
        if allowedOrigins.contains(origin) { return true }
        guard let url = URLComponents(string: origin), let scheme = url.scheme?.lowercased() else { return false }
        guard scheme == "http" || scheme == "https" else { return true }
        guard let host, let originHost = url.host else { return false }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        return originAuthority == host
    }
}
