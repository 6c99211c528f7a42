import Hummingbird
import Logging
import ParleyCore

/// Turns every error into `{"error": {"code", "message"}}` with the status that fits it. Unexpected errors are
/// logged and answered as `internal`, without their details.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ParleyError {
            return try Self.response(error, status: error.code.status, request: request, context: context)
        } catch let error as any HTTPResponseError {
            // Hummingbird's own errors: an unknown route, a body over the size limit, and the like.
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return try Self.response(
                ParleyError(ParleyError.Code(status: error.status), message), status: error.status, request: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))", "detail": "\(error)"])
            return try Self.response(
                ParleyError(.internal, "something went wrong on the server"), status: .internalServerError, request: request,
                context: context)
        }
    }

    /// `{"error": {"code", "message", "field"?}}`.
    struct Envelope: Encodable {
        struct Body: Encodable {
            let code: String
            let message: String
            let field: String?
        }
        let error: Body

        init(_ error: ParleyError) {
            self.error = Body(code: error.code.rawValue, message: error.message, field: error.field)
        }
    }

    static func response(_ error: ParleyError, status: HTTPResponse.Status, request: Request, context: Context) throws -> Response {
        var response = try JSONBody(Envelope(error), status: status).response(from: request, context: context)
        if let seconds = error.retryAfter { response.headers[.retryAfter] = "\(seconds)" }
        return response
    }
}

extension ParleyError.Code {
    /// The HTTP status that answers this code.
    var status: HTTPResponse.Status {
        switch self {
        case .badRequest, .invalidField: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden, .recordingForbidden: .forbidden
        case .notFound: .notFound
        case .conflict, .meetingFull: .conflict
        case .meetingEnded, .peerGone: .gone
        case .tooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .timeout: .requestTimeout
        case .unsupportedMediaType: .unsupportedMediaType
        case .unavailable, .recorderUnavailable: .serviceUnavailable
        default: .internalServerError
        }
    }

    /// The code for an error that Hummingbird raised with only a status, such as an unknown route.
    init(status: HTTPResponse.Status) {
        switch status {
        case .badRequest: self = .badRequest
        case .unauthorized: self = .unauthorized
        case .forbidden: self = .forbidden
        case .notFound: self = .notFound
        case .conflict: self = .conflict
        case .contentTooLarge: self = .tooLarge
        case .requestTimeout: self = .timeout
        case .unsupportedMediaType: self = .unsupportedMediaType
        case .tooManyRequests: self = .rateLimited
        case .methodNotAllowed: self = ParleyError.Code(rawValue: "method_not_allowed")
        default: self = status.kind == .clientError ? .badRequest : .internal
        }
    }
}
