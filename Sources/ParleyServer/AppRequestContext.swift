import Foundation
import Hummingbird
import HummingbirdWebSocket
import ParleyCore

/// The per-request context: Hummingbird's core storage, plus the caller once `Authenticator` has checked them.
public struct AppRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The authenticated user's id; nil on routes that need no token.
    public var userId: String?
    /// When the caller's access token expires (WebSocket upgrades, which outlive a request).
    public var tokenExpiry: Date?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
    }

    public var maxUploadSize: Int { Limits.requestBodyBytes }

    /// The caller, on routes behind `Authenticator`.
    func caller() throws -> String {
        guard let userId else { throw ParleyError(.unauthorized, "sign in first") }
        return userId
    }
}
