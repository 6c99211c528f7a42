import Hummingbird
import ParleyCore

/// A JSON response with a chosen status: `JSONBody(room, status: .created)`.
struct JSONBody<Value: Encodable & Sendable>: ResponseGenerator {
    var value: Value
    var status: HTTPResponse.Status = .ok

    init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(value, from: request, context: context)
        response.status = status
        return response
    }
}

extension Request {
    /// Decodes a JSON body. Anything that is not the expected JSON is a `bad_request`, never a 500.
    func json<Body: Decodable>(_ type: Body.Type, context: AppRequestContext) async throws -> Body {
        do {
            return try await decode(as: type, context: context)
        } catch let error as DecodingError {
            throw ParleyError(.badRequest, "the body is not the expected JSON: \(error.summary)")
        }
    }
}

extension DecodingError {
    /// Which field was wrong, without echoing the value.
    var summary: String {
        switch self {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let context) where context.codingPath.isEmpty: "malformed JSON"
        case .dataCorrupted(let context): "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        @unknown default: "malformed JSON"
        }
    }
}
