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
        guard let media = content[mediaType] else {
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
    /// JSON Schema (2020-12, as OpenAPI 3.1 has it) over the keywords the document uses. A keyword it does not know
    /// is an error, so that a schema it cannot check never passes unchecked.
    final class Schema: Sendable {
        let root: JSONValue
        /// For each `properties` of the document, the names that a checked value held: a property that no request
        /// or answer ever holds is documented but never sent.
        private let seen = Mutex<[JSONValue: Set<String>]>([:])

        init(root: JSONValue) { self.root = root }

        /// The properties of the document's schemas that no checked value held, each as a pointer to it.
        var unseen: [String] {
            let seen = seen.withLock { $0 }
            var unseen: [String] = []
            for (part, pointer) in [(root["paths"], "#/paths"), (root["components"]["schemas"], "#/components/schemas")] {
                walk(part, at: pointer, schema: false) { properties, pointer in
                    unseen += (properties.object ?? [:]).keys.sorted().filter { seen[properties]?.contains($0) != true }.map { "\(pointer)/\($0)" }
                }
            }
            return unseen
        }

        /// Calls `body` with every `properties` under `value` and its pointer; `schema` says whether `value` is a
        /// schema, whose keywords are told from property names, or a part of the document that holds schemas.
        private func walk(_ value: JSONValue, at pointer: String, schema: Bool, _ body: (JSONValue, String) -> Void) {
            guard let object = value.object else {
                for (index, item) in (value.array ?? []).enumerated() { walk(item, at: "\(pointer)/\(index)", schema: schema, body) }
                return
            }
            for (key, child) in object.sorted(by: { $0.key < $1.key }) {
                let path = "\(pointer)/\(key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1"))"
                switch (schema, key) {
                case (false, "schema"): walk(child, at: path, schema: true, body)
                case (false, _): walk(child, at: path, schema: key == "schemas" ? false : pointer.hasSuffix("/schemas"), body)
                case (true, "properties"):
                    body(child, path)
                    for (name, property) in child.object ?? [:] { walk(property, at: "\(path)/\(name)", schema: true, body) }
                case (true, "items"), (true, "not"), (true, "if"), (true, "then"), (true, "else"), (true, "additionalProperties"):
                    walk(child, at: path, schema: true, body)
                case (true, "oneOf"), (true, "anyOf"), (true, "allOf"):
                    for (index, branch) in (child.array ?? []).enumerated() { walk(branch, at: "\(path)/\(index)", schema: true, body) }
                default: break
                }
            }
        }

        /// Annotations, which constrain nothing.
        static let annotations: Set<String> = [
            "description", "default", "title", "examples", "example", "deprecated", "readOnly", "writeOnly", "$comment",
        ]

        /// Follows a `$ref` into the document, as often as it takes.
        func resolved(_ value: JSONValue) -> JSONValue {
            guard let reference = value["$ref"].string else { return value }
            return resolved(pointer(reference))
        }

        func pointer(_ reference: String) -> JSONValue {
            guard reference.hasPrefix("#/") else { return .null }
            return reference.dropFirst(2).split(separator: "/").reduce(root) { node, token in
                node[token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
            }
        }

        /// Every way `value` breaks `schema`, each with the path to the part that does.
        ///
        /// An object whose schema has `type: object` and names `properties` is closed unless the schema says
        /// `additionalProperties`: the document leaves it open, as a client should tolerate fields to come, but a
        /// field the server sends that the document does not name is the document's gap.
        func errors(_ value: JSONValue, _ schema: JSONValue, at path: String) -> [String] {
            if case .bool(let allowed) = schema { return allowed ? [] : ["\(path): no value is allowed here"] }
            guard let keywords = schema.object else { return ["\(path): the schema is not an object or a boolean"] }
            var errors: [String] = []
            for (keyword, argument) in keywords.sorted(by: { $0.key < $1.key }) where !Self.annotations.contains(keyword) {
                errors += check(keyword, argument, value, in: schema, at: path)
            }
            return errors
        }

        func accepts(_ value: JSONValue, _ schema: JSONValue) -> Bool { errors(value, schema, at: "").isEmpty }

        private func check(_ keyword: String, _ argument: JSONValue, _ value: JSONValue, in schema: JSONValue, at path: String)
            -> [String]
        {
            switch keyword {
            case "$ref":
                let target = pointer(argument.string ?? "")
                return target == .null ? ["\(path): $ref \(argument) leads nowhere"] : errors(value, target, at: path)
            case "type":
                let types = argument.array?.compactMap(\.string) ?? [argument.string ?? ""]
                return types.contains(where: { Self.has(value, type: $0) }) ? [] : ["\(path): \(Self.text(value)) is not \(types)"]
            case "enum":
                return argument.array?.contains(value) == true ? [] : ["\(path): \(Self.text(value)) is not one of \(Self.text(argument))"]
            case "const":
                return value == argument ? [] : ["\(path): \(Self.text(value)) is not \(Self.text(argument))"]
            case "properties", "required", "dependentRequired", "additionalProperties":
                guard let object = value.object else { return [] }
                return properties(keyword, argument, object, in: schema, at: path)
            case "items":
                return (value.array ?? []).enumerated().flatMap { index, item in errors(item, argument, at: "\(path)[\(index)]") }
            case "minItems", "maxItems":
                guard let count = value.array?.count, let bound = argument.integer else { return [] }
                return (keyword == "minItems" ? count >= bound : count <= bound) ? [] : ["\(path): \(count) items breaks \(keyword) \(bound)"]
            case "minLength", "maxLength":
                // JSON Schema counts code points.
                guard let count = value.string?.unicodeScalars.count, let bound = argument.integer else { return [] }
                return (keyword == "minLength" ? count >= bound : count <= bound) ? [] : ["\(path): \(count) characters breaks \(keyword) \(bound)"]
            case "pattern":
                guard let string = value.string else { return [] }
                guard let regex = try? Regex(argument.string ?? "") else { return ["\(path): the pattern \(argument) does not compile"] }
                return (try? regex.firstMatch(in: string)) != nil ? [] : ["\(path): \(Self.text(value)) does not match \(argument.string ?? "")"]
            case "minimum", "maximum":
                guard let number = value.number, let bound = argument.number else { return [] }
                return (keyword == "minimum" ? number >= bound : number <= bound)
                    ? [] : ["\(path): \(Self.text(value)) breaks \(keyword) \(Self.text(argument))"]
            case "format":
                return format(argument.string ?? "", value, at: path)
            case "oneOf", "anyOf", "allOf":
                let branches = argument.array ?? []
                let failures = branches.map { errors(value, $0, at: path) }
                let passed = failures.filter(\.isEmpty).count
                let ok = keyword == "oneOf" ? passed == 1 : keyword == "anyOf" ? passed >= 1 : passed == branches.count
                guard !ok else { return [] }
                if keyword == "allOf" { return failures.flatMap { $0 } }
                return [
                    "\(path): matches \(passed) of \(keyword)'s \(branches.count) schemas: "
                        + failures.map { "[\($0.joined(separator: "; "))]" }.joined(separator: " ")
                ]
            case "not":
                return accepts(value, argument) ? ["\(path): \(Self.text(value)) matches a schema it must not: \(Self.text(argument))"] : []
            case "if":
                let branch = accepts(value, argument) ? schema["then"] : schema["else"]
                return branch == .null ? [] : errors(value, branch, at: path)
            case "then", "else":
                return []  // applied by `if`
            default:
                return ["\(path): the checker does not know the keyword '\(keyword)'; teach it, or the schema goes unchecked"]
            }
        }

        private func properties(_ keyword: String, _ argument: JSONValue, _ object: [String: JSONValue], in schema: JSONValue, at path: String)
            -> [String]
        {
            switch keyword {
            case "properties":
                let declared = argument.object ?? [:]
                seen.withLock { $0[argument, default: []].formUnion(object.keys.filter { declared[$0] != nil }) }
                var errors = declared.sorted { $0.key < $1.key }.flatMap { name, property in
                    object[name].map { self.errors($0, property, at: "\(path).\(name)") } ?? []
                }
                let closed = Self.has(.object([:]), typeOf: schema) && schema["additionalProperties"] == .null
                if closed {
                    errors += object.keys.filter { declared[$0] == nil }.sorted().map {
                        "\(path): the property '\($0)' is not in the document"
                    }
                }
                return errors
            case "required":
                return (argument.array ?? []).compactMap(\.string).filter { object[$0] == nil }.map {
                    "\(path): the required property '\($0)' is missing"
                }
            case "dependentRequired":
                return (argument.object ?? [:]).flatMap { name, needs -> [String] in
                    guard object[name] != nil else { return [] }
                    return (needs.array ?? []).compactMap(\.string).filter { object[$0] == nil }.map { "\(path): '\(name)' needs '\($0)'" }
                }
            default:  // additionalProperties
                let declared = schema["properties"].object ?? [:]
                return object.filter { declared[$0.key] == nil }.sorted { $0.key < $1.key }.flatMap { name, extra in
                    argument == .bool(false) ? ["\(path): the property '\(name)' is not allowed"] : errors(extra, argument, at: "\(path).\(name)")
                }
            }
        }

        private func format(_ format: String, _ value: JSONValue, at path: String) -> [String] {
            switch format {
            case "int64":
                return value.number == nil || value.integer != nil ? [] : ["\(path): \(Self.text(value)) is not an int64"]
            case "date-time", "uuid":
                guard let string = value.string else { return [] }
                let shape =
                    format == "uuid"
                    ? string.wholeMatch(of: /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/) != nil
                    : string.wholeMatch(of: /\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})/) != nil
                guard shape else { return ["\(path): \(Self.text(value)) is not a \(format)"] }
                if format == "date-time", (try? Date.ISO8601FormatStyle(includingFractionalSeconds: string.contains(".")).parse(string)) == nil {
                    return ["\(path): \(Self.text(value)) is not a date-time"]
                }
                return []
            default:
                return ["\(path): the checker does not know the format '\(format)'"]
            }
        }

        /// Whether `schema` says its value is of `value`'s kind (used to tell an object schema).
        private static func has(_ value: JSONValue, typeOf schema: JSONValue) -> Bool {
            let types = schema["type"].array?.compactMap(\.string) ?? [schema["type"].string].compactMap { $0 }
            return types.contains { has(value, type: $0) }
        }

        private static func has(_ value: JSONValue, type: String) -> Bool {
            switch (type, value) {
            case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): true
            case ("number", .int), ("number", .double), ("integer", .int): true
            case ("integer", .double(let number)): number.rounded() == number
            default: false
            }
        }

        static func text(_ value: JSONValue) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let text = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            return text.count > 120 ? text.prefix(117) + "..." : text
        }
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
        let sent = try encoded.map { try JSONDecoder().decode(JSONValue.self, from: $0) }
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
