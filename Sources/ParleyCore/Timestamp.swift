import Foundation

/// A point in time with millisecond precision, as the store keeps it (milliseconds since 1970)
/// and as the wire shows it (ISO 8601 in UTC, with milliseconds).
public struct Timestamp: Hashable, Comparable, Sendable, Codable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public init(_ date: Date = Date()) {
        self.milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public static var now: Timestamp { Timestamp() }

    public var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + seconds * 1000) }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = try? Self.style.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time"))
        }
        self.init(date)
    }

    /// Written from the integer milliseconds rather than through `Date`, whose binary fraction could print one
    /// millisecond short.
    public var iso8601: String {
        let (seconds, millis) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, fraction) = millis < 0 ? (seconds - 1, millis + 1000) : (seconds, millis)
        let base = Date(timeIntervalSince1970: Double(wholeSeconds)).formatted(Self.secondsStyle)
        return base.dropLast() + "." + String(String(fraction + 1000).dropFirst()) + "Z"
    }

    private static let secondsStyle = Date.ISO8601FormatStyle()

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }
}
