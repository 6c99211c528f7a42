import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import Synchronization
import Testing

@testable import ParleyServer

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
