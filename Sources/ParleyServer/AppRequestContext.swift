import Foundation
import Hummingbird
import ParleyCore

/// The per-request context: Hummingbird's core storage, plus the caller once `Authenticator` has checked them.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user's id; nil on routes that need no token.
    public var userId: String?
    /// The connection's peer address; nil where there is none (router tests).
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    public var maxUploadSize: Int { Limits.requestBodyBytes }

    /// The caller, on routes behind `Authenticator`.
    func caller() throws -> String {
        guard let userId else { throw ParleyError(.unauthorized, "sign in first") }
        return userId
    }
}
