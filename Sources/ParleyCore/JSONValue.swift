/// Any JSON value, held as it came: signal payloads pass through the server this way, checked for size and
/// shape but never rewritten.
public enum JSONValue: Codable, Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Each kind that does not match throws (and builds) an error, so the common ones are tried first: strings and
    /// objects, which most of a signal's payload is. An integer is tried before a double, to stay an integer.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// A member of an object; `.null` when it is missing or this is no object, so that lookups chain.
    public subscript(key: String) -> JSONValue {
        guard case .object(let object) = self else { return .null }
        return object[key] ?? .null
    }

    /// An element of an array; `.null` when it is out of range or this is no array.
    public subscript(index: Int) -> JSONValue {
        guard case .array(let array) = self, array.indices.contains(index) else { return .null }
        return array[index]
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    /// A number without a fraction or exponent that fits an `Int64`.
    public var integer: Int64? { if case .int(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
    public var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    public var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    public var isNull: Bool { self == .null }
}

extension JSONValue {
    /// The path of the first string in this value that holds a control character (`Validate.holdsControls`), or
    /// nil; strings under a key in `newlinesIn` may hold tabs and newlines.
    public func firstControlCharacter(newlinesIn: Set<String> = []) -> String? {
        controlCharacter(newlines: false, newlinesIn: newlinesIn).map { $0.isEmpty ? "body" : $0.reversed().joined(separator: ".") }
    }

    /// The path to the string with a control character, innermost first, built only once one is found.
    private func controlCharacter(newlines: Bool, newlinesIn: Set<String>) -> [String]? {
        switch self {
        case .string(let value):
            return Validate.holdsControls(value, newlines: newlines) ? [] : nil
        case .array(let values):
            for (index, value) in values.enumerated() {
                if var path = value.controlCharacter(newlines: newlines, newlinesIn: newlinesIn) {
                    path.append("\(index)")
                    return path
                }
            }
            return nil
        case .object(let members):
            for (key, value) in members {
                if var path = value.controlCharacter(newlines: newlinesIn.contains(key), newlinesIn: newlinesIn) {
                    path.append(key)
                    return path
                }
            }
            return nil
        default:
            return nil
        }
    }
}
