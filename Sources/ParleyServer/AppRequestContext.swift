import Foundation
import Hummingbird
import ParleyCore

/// The per-request context: Hummingbird's core storage, plus the caller once `Authenticator` has checked them.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user's id; nil on routes that need no token.
    public var userId: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { Limits.requestBodyBytes }

    /// The caller, on routes behind `Authenticator`.
    func caller() throws -> String {
        guard let userId else { throw ParleyError(.unauthorized, "sign in first") }
        return userId
    }
}
