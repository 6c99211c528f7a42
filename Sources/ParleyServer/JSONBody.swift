import Foundation
import Hummingbird
import NIOFoundationCompat
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
    /// Decodes a JSON body, read as strictly as a WebSocket frame (`JSONReader`: no byte-order mark, no trailing
    /// comma). A body that is not `application/json` is `unsupported_media_type`, so that a cross-site form (which
    /// can send only form and text types without a CORS preflight) cannot post to Parley. A string that holds a
    /// control character (but a tab or newline in `text`) is `invalid_field`. Anything else that is not the
    /// expected JSON is `bad_request`, never a 500.
    func json<Body: Decodable>(_ type: Body.Type, context: AppRequestContext) async throws -> Body {
        guard let contentType = headers[.contentType], Self.isJSON(contentType) else {
            throw ParleyError(.unsupportedMediaType, "send the body as Content-Type: application/json")
        }
        let bytes = try await body.collect(upTo: context.maxUploadSize)
        let value: JSONValue
        do {
            value = try bytes.withUnsafeReadableBytes { try JSONReader.parse($0) }
        } catch {
            throw ParleyError(.badRequest, "the body is not JSON: \(error)")
        }
        if let field = value.firstControlCharacter(newlinesIn: ["text"]) {
            throw ParleyError.invalid(field, "may not hold control characters")
        }
        do {
            return try JSONDecoder().decode(type, from: bytes)
        } catch let error as DecodingError {
            throw ParleyError(.badRequest, "the body is not the expected JSON: \(error.summary)")
        }
    }

    /// `application/json`, in any case, with or without parameters such as a charset.
    private static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
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
