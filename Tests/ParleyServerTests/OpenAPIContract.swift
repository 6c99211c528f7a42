import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import Synchronization
import Testing

@testable import ParleyServer

/// The OpenAPI document held against real calls: each call is matched to its documented operation, its query, path
/// and body are checked against the operation's parameters and request body, and its answer against the responses
/// the operation lists. The operations called, with the statuses they answered, are kept for the coverage check.
final class OpenAPIContract: Sendable {
    /// An operation as the document names it: `get /api/rooms/{room}`.
    struct Operation: Hashable, Comparable, Sendable, CustomStringConvertible {
        let method: String
        let path: String

        var description: String { "\(method.uppercased()) \(path)" }
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    let document: JSONValue
    let schemas: Schema
    private let exercised = Mutex<[Operation: Set<Int>]>([:])
    private let accepted = Mutex<[Operation: JSONValue]>([:])

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    init(_ bytes: Data) throws {
        document = try JSONDecoder().decode(JSONValue.self, from: bytes)
        schemas = Schema(root: document)
    }

    /// Every operation of the document.
    var operations: Set<Operation> {
        Set(
            (document["paths"].object ?? [:]).flatMap { path, item in
                (item.object ?? [:]).keys.filter(Self.methods.contains).map { Operation(method: $0, path: path) }
            })
    }

    /// The operations called so far, with the statuses they answered.
    var calls: [Operation: Set<Int>] { exercised.withLock { $0 } }

    /// The last request body the operation took that the document allows, to send again where a body is needed.
    func acceptedBody(_ operation: Operation) -> JSONValue? { accepted.withLock { $0[operation] } }

    /// A route as the router or the document spells it, with each parameter as `{name}`: Hummingbird writes `:name`
    /// or `{name}`, OpenAPI `{name}`.
    static func normalised(_ path: String) -> String {
        "/"
            + path.split(separator: "/").map { segment in
                segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
            }.joined(separator: "/")
    }

    /// The documented operation that serves `path`, and its path parameters; a literal segment wins over a parameter.
    func operation(_ method: HTTPRequest.Method, _ path: String) -> (Operation, [String: String])? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        let method = method.rawValue.lowercased()
        var best: (operation: Operation, parameters: [String: String], literals: Int)?
        for operation in operations where operation.method == method {
            let template = operation.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard template.count == segments.count else { continue }
            var parameters: [String: String] = [:]
            var literals = 0
            var matches = true
            for (part, segment) in zip(template, segments) {
                if part.hasPrefix("{") && part.hasSuffix("}") && !segment.isEmpty {
                    parameters[String(part.dropFirst().dropLast())] = segment.removingPercentEncoding ?? segment
                } else if part == segment {
                    literals += 1
                } else {
                    matches = false
                    break
                }
            }
            if matches, literals > best?.literals ?? -1 { best = (operation, parameters, literals) }
        }
        return best.map { ($0.operation, $0.parameters) }
    }

    /// The operation object of `operation`.
    func object(_ operation: Operation) -> JSONValue { document["paths"][operation.path][operation.method] }

    /// Whether the operation needs a bearer token: its own `security`, else the document's.
    func isSecured(_ operation: Operation) -> Bool {
        let security = object(operation)["security"] == .null ? document["security"] : object(operation)["security"]
        return !(security.array ?? []).isEmpty
    }

    /// The operation's parameters, its path item's among them, by location and name.
    func parameters(_ operation: Operation) -> [String: JSONValue] {
        let all = (document["paths"][operation.path]["parameters"].array ?? []) + (object(operation)["parameters"].array ?? [])
        var byKey: [String: JSONValue] = [:]
        for parameter in all.map(schemas.resolved) {
            byKey["\(parameter["in"].string ?? "?") \(parameter["name"].string ?? "?")"] = parameter
        }
        return byKey
    }

    /// What in a request the document does not allow: a query parameter it does not name, a parameter or body
    /// outside its schema. `conforming` is false for requests that are wrong on purpose, whose names are still
    /// checked but not their values.
    func requestErrors(_ operation: Operation, pathParameters: [String: String], query: [(String, String)], body: JSONValue?, conforming: Bool)
        -> [String]
    {
        let parameters = parameters(operation)
        var errors: [String] = []
        for (name, value) in pathParameters {
            guard let parameter = parameters["path \(name)"] else {
                errors.append("path parameter '\(name)' is not documented")
                continue
            }
            if conforming { errors += schemas.errors(Self.parameterValue(value, parameter), parameter["schema"], at: "path.\(name)") }
        }
        for (name, value) in query {
            guard let parameter = parameters["query \(name)"] else {
                errors.append("query parameter '\(name)' is not documented")
                continue
            }
            if conforming { errors += schemas.errors(Self.parameterValue(value, parameter), parameter["schema"], at: "query.\(name)") }
        }
        guard conforming else { return errors }
        for (key, parameter) in parameters where key.hasPrefix("query ") && parameter["required"] == .bool(true) {
            if !query.contains(where: { $0.0 == parameter["name"].string }) { errors.append("required \(key) is missing") }
        }
        let requestBody = schemas.resolved(object(operation)["requestBody"])
        switch (requestBody, body) {
        case (.null, nil): break
        case (.null, .some): errors.append("the document takes no request body")
        case (_, nil): if requestBody["required"] == .bool(true) { errors.append("the document requires a request body") }
        case (_, .some) where requestBody["content"]["*/*"] != .null:
            break  // any bytes
        case (_, .some(let body)):
            let schema = requestBody["content"]["application/json"]["schema"]
            if schema == .null { errors.append("the request body is not documented as application/json") }
            errors += schemas.errors(body, schema, at: "body")
        }
        return errors
    }

    /// What in an answer the document does not allow: a status it does not list, a media type or body outside the
    /// response's, a required header missing. Records the call for the coverage check.
    func responseErrors(_ operation: Operation, status: Int, headers: HTTPFields, body: Data) -> [String] {
        exercised.withLock { _ = $0[operation, default: []].insert(status) }
        let responses = object(operation)["responses"]
        let listed = responses["\(status)"] != .null ? responses["\(status)"] : responses["\(status / 100)XX"]
        guard listed != .null || responses["default"] != .null else {
            let statuses = (responses.object ?? [:]).keys.sorted().joined(separator: ", ")
            return ["answered \(status), which the document does not list (it lists \(statuses))"]
        }
        let response = schemas.resolved(listed != .null ? listed : responses["default"])
        var errors: [String] = []
        for (name, header) in response["headers"].object ?? [:] {
            let header = schemas.resolved(header)
            guard let value = headers.first(where: { $0.name.canonicalName == name.lowercased() })?.value else {
                if header["required"] == .bool(true) { errors.append("the required header \(name) is missing") }
                continue
            }
            errors += schemas.errors(Self.parameterValue(value, header), header["schema"], at: "header \(name)")
        }
        guard let content = response["content"].object, !content.isEmpty else {
            return body.isEmpty ? errors : errors + ["answered a body of \(body.count) bytes where the document has none"]
        }
        let mediaType = headers[.contentType].map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard let media = content[mediaType] ?? content["*/*"] else {
            return errors + ["answered Content-Type '\(mediaType)', where the document has \(content.keys.sorted())"]
        }
        if mediaType == "application/json" {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: body) else { return errors + ["the body is not JSON"] }
            errors += schemas.errors(value, media["schema"], at: "$")
        } else {
            errors += schemas.errors(.string(String(decoding: body, as: UTF8.self)), media["schema"], at: "$")
        }
        return errors
    }

    /// A parameter's or header's text as its schema's type: query `limit=10` is the integer 10.
    private static func parameterValue(_ text: String, _ parameter: JSONValue) -> JSONValue {
        let type = parameter["schema"]["type"].string
        if type == "integer", let value = Int64(text) { return .int(value) }
        if type == "number", let value = Double(text) { return .double(value) }
        if type == "boolean", let value = Bool(text) { return .bool(value) }
        return .string(text)
    }
}

extension OpenAPIContract {
    /// Sends a request as `TestClientProtocol.call` does, and records as issues at the caller whatever in the request
    /// or its answer the document does not allow. `raw` bodies, and requests with `conforming: false`, are wrong on
    /// purpose: their values go unchecked, but not their answers.
    @discardableResult
    func call(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], json: (any Encodable)? = nil,
        raw: String? = nil, conforming: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (status: HTTPResponse.Status, body: JSONValue, headers: HTTPFields) {
        let encoded = try json.map { try JSONEncoder().encode($0) }
        let pathAndQuery = uri.split(separator: "?", maxSplits: 1).map(String.init)
        let query = (pathAndQuery.count > 1 ? pathAndQuery[1] : "").split(separator: "&").map { item in
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.removingPercentEncoding ?? String($0) }
            return (pair[0], pair.count > 1 ? pair[1] : "")
        }
        var headers = headers
        let buffer = raw.map { ByteBuffer(string: $0) } ?? encoded.map { ByteBuffer(bytes: $0) }
        if buffer != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        guard let (operation, pathParameters) = operation(method, pathAndQuery[0]) else {
            Issue.record("\(method) \(pathAndQuery[0]) is not in the document", sourceLocation: sourceLocation)
            return try await client.execute(uri: uri, method: method, headers: headers, body: buffer) { ($0.status, .null, $0.headers) }
        }
        let sent = try encoded.map { try JSONDecoder().decode(JSONValue.self, from: $0) } ?? raw.map(JSONValue.string)
        for error in requestErrors(operation, pathParameters: pathParameters, query: query, body: sent, conforming: conforming && raw == nil) {
            Issue.record("request \(operation): \(error)", sourceLocation: sourceLocation)
        }
        let answer = try await client.execute(uri: uri, method: method, headers: headers, body: buffer) { response in
            (response.status, Data(response.body.readableBytesView), response.headers)
        }
        for error in responseErrors(operation, status: answer.0.code, headers: answer.2, body: answer.1) {
            Issue.record("\(operation) answered \(answer.0.code): \(error)", sourceLocation: sourceLocation)
        }
        if conforming, let sent, answer.0.kind == .successful { accepted.withLock { $0[operation] = sent } }
        let body = answer.1.isEmpty ? .null : (try? JSONDecoder().decode(JSONValue.self, from: answer.1)) ?? .null
        return (answer.0, body, answer.2)
    }
}
