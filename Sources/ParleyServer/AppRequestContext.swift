import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import ParleyCore

/// The per-request context: Hummingbird's core storage, plus the caller once `Authenticator` has checked them.
public struct AppRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The connection's channel; after a WebSocket upgrade, the socket's, which the gateway writes batches to.
    public let channel: any NIOCore.Channel
    /// The authenticated user's id; nil on routes that need no token.
    public var userId: String?
    /// When the caller's access token expires (WebSocket upgrades, which outlive a request).
    public var tokenExpiry: Date?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
    }

    public var maxUploadSize: Int { Limits.requestBodyBytes }

    /// The caller, on routes behind `Authenticator`.
    func caller() throws -> String {
        guard let userId else { throw ParleyError(.unauthorized, "sign in first") }
        return userId
    }
}
