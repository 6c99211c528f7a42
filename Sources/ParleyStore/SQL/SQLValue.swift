/// A value bound to, or read from, a SQL statement. Parley's schema needs only integers and text:
/// times are milliseconds, flags are 0 or 1, ids are text.
public enum SQLValue: Hashable, Sendable {
    case int(Int64)
    case text(String)
    case null

    public init(_ value: String?) { self = value.map(SQLValue.text) ?? .null }
    public init(_ value: Int64?) { self = value.map(SQLValue.int) ?? .null }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
}

/// Why a SQL statement failed, where the caller can act on the reason.
public struct SQLError: Error, CustomStringConvertible {
    public enum Code: Sendable { case uniqueViolation, decoding }
    public var code: Code
    public var detail: String
    public var description: String { "SQLError \(code): \(detail)" }
}

/// One result row, read by column position.
public struct SQLRow: Sendable {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }

    public func int(_ column: Int) throws -> Int64 {
        guard case .int(let value) = values[column] else { throw mismatch(column, "an integer") }
        return value
    }

    public func text(_ column: Int) throws -> String {
        guard case .text(let value) = values[column] else { throw mismatch(column, "text") }
        return value
    }

    public func optionalInt(_ column: Int) throws -> Int64? {
        if case .null = values[column] { return nil }
        return try int(column)
    }

    public func optionalText(_ column: Int) throws -> String? {
        if case .null = values[column] { return nil }
        return try text(column)
    }

    public func isNull(_ column: Int) -> Bool { values[column] == .null }

    private func mismatch(_ column: Int, _ expected: String) -> SQLError {
        SQLError(code: .decoding, detail: "column \(column) is not \(expected): \(values[column])")
    }
}
