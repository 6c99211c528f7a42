import Foundation

/// Checks of user input against `Limits`. Each returns the normalised value or throws `invalid_field`.
public enum Validate {
    private static let usernameCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")

    public static func isUsernameCharacter(_ character: Character) -> Bool { usernameCharacters.contains(character) }

    public static func username(_ raw: String) throws -> String {
        let value = raw.lowercased()
        guard Limits.username.contains(value.count) else {
            throw ParleyError.invalid("username", "must be \(Limits.username.lowerBound) to \(Limits.username.upperBound) characters")
        }
        guard value.allSatisfy(usernameCharacters.contains) else {
            throw ParleyError.invalid("username", "may hold only a-z, 0-9, '.', '_' and '-'")
        }
        return value
    }

    public static func password(_ value: String) throws -> String {
        try noControls(value, field: "password")
        guard value.count >= Limits.passwordCharacters else {
            throw ParleyError.invalid("password", "must be at least \(Limits.passwordCharacters) characters")
        }
        guard value.utf8.count <= Limits.passwordBytes else {
            throw ParleyError.invalid("password", "must be at most \(Limits.passwordBytes) bytes")
        }
        return value
    }

    /// A display name or a group name: trimmed, readable on one line (`readable`), and NFC.
    public static func name(_ raw: String, field: String = "name") throws -> String {
        let value = try readable(raw, field: field, newlines: false).trimmingCharacters(in: .whitespaces)
        guard Limits.name.contains(value.count) else {
            throw ParleyError.invalid(field, "must be \(Limits.name.lowerBound) to \(Limits.name.upperBound) characters")
        }
        return value
    }

    /// Message text keeps its inner whitespace and its lines (`readable`), and is stored NFC.
    public static func text(_ raw: String) throws -> String {
        let value = try readable(raw, field: "text", newlines: true)
        guard Limits.text.contains(value.count) else {
            throw ParleyError.invalid("text", "must be \(Limits.text.lowerBound) to \(Limits.text.upperBound) characters")
        }
        return value
    }

    /// A message's text and files: text as `text` says, or empty when files go with it; 1 to 10 distinct file ids.
    public static func message(text: String, files: [String]) throws -> (text: String, files: [String]) {
        guard files.count <= Limits.filesPerMessage else {
            throw ParleyError.invalid("files", "may hold at most \(Limits.filesPerMessage) files")
        }
        guard Set(files).count == files.count else { throw ParleyError.invalid("files", "must not name a file twice") }
        return (files.isEmpty || !text.isEmpty ? try Self.text(text) : "", files)
    }

    /// A message's idempotency key, a UUID; normalised to lowercase so that a retry matches whatever its case.
    /// Read byte by byte: 36 characters, hex digits in groups of 8, 4, 4, 4 and 12 between hyphens. Foundation's
    /// `UUID(uuidString:)` reads the same form through `sscanf` and `snprintf`, on every send, and lets a space or a
    /// sign stand in for a digit, which this does not.
    public static func clientId(_ value: String) throws -> String {
        let invalid = ParleyError.invalid("clientId", "must be a UUID")
        var utf8 = Array(value.utf8)
        guard utf8.count == 36 else { throw invalid }
        for index in utf8.indices {
            if [8, 13, 18, 23].contains(index) {
                guard utf8[index] == UInt8(ascii: "-") else { throw invalid }
                continue
            }
            switch utf8[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): continue
            case UInt8(ascii: "A")...UInt8(ascii: "F"): utf8[index] += 32
            default: throw invalid
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    public static func pageSize(_ value: Int?) throws -> Int {
        guard let value else { return Limits.defaultPageSize }
        guard Limits.pageSize.contains(value) else {
            throw ParleyError.invalid("limit", "must be \(Limits.pageSize.lowerBound) to \(Limits.pageSize.upperBound)")
        }
        return value
    }

    public static func seq(_ value: Int64?, field: String) throws -> Int64? {
        guard let value else { return nil }
        guard value >= 0 else { throw ParleyError.invalid(field, "must not be negative") }
        return value
    }

    /// A reaction: one emoji, which may be a sequence (a skin tone, a flag, a family joined by zero-width joiners).
    public static func emoji(_ raw: String) throws -> String {
        let invalid = ParleyError.invalid("emoji", "must be one emoji")
        guard raw.count == 1, raw.utf8.count <= 64 else { throw invalid }
        let scalars = raw.unicodeScalars
        let pictographic = scalars.contains { $0.properties.isEmojiPresentation || $0.value == 0xFE0F }
        let emojiOnly = scalars.allSatisfy { scalar in
            scalar.properties.isEmoji || scalar.properties.isEmojiModifier || scalar.value == 0x200D || scalar.value == 0xFE0F
                || (0xE0020...0xE007F).contains(scalar.value)
        }
        guard pictographic, emojiOnly else { throw invalid }
        return raw
    }

    public static func query(_ raw: String) throws -> String {
        try noControls(raw, field: "q")
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Limits.query.contains(value.count) else {
            throw ParleyError.invalid("q", "must be \(Limits.query.lowerBound) to \(Limits.query.upperBound) characters")
        }
        return value
    }
}
