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

    /// A reaction: one emoji, as Unicode's emoji sequences build them (UTS #51): emoji joined by zero-width joiners,
    /// each one emoji shown as an emoji (by its own presentation or a single U+FE0F after it), with at most one skin
    /// tone; or a flag (two regional indicators, or the black flag with its tags); or a keycap. Anything else,
    /// invisible selectors and joiners alone or repeated included, is refused, so that one emoji has one spelling.
    public static func emoji(_ raw: String) throws -> String {
        let invalid = ParleyError.invalid("emoji", "must be one emoji")
        guard raw.count == 1, raw.utf8.count <= 64 else { throw invalid }
        var scalars = Array(raw.unicodeScalars)[...]
        while true {
            guard EmojiElement.take(&scalars) else { throw invalid }
            guard let next = scalars.first else { return raw }
            guard next == EmojiElement.joiner, scalars.count > 1 else { throw invalid }
            scalars.removeFirst()
        }
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

/// One element of an emoji sequence, read off the front of a reaction's scalars (`Validate.emoji`).
enum EmojiElement {
    static let joiner: Unicode.Scalar = "\u{200D}"
    static let presentation: Unicode.Scalar = "\u{FE0F}"
    static let keycap: Unicode.Scalar = "\u{20E3}"
    static let blackFlag: Unicode.Scalar = "\u{1F3F4}"
    static let regionalIndicators: ClosedRange<UInt32> = 0x1F1E6...0x1F1FF
    static let tags: ClosedRange<UInt32> = 0xE0020...0xE007E
    static let cancelTag: UInt32 = 0xE007F

    /// Takes one element off the front of `scalars`: false when what is there is none.
    static func take(_ scalars: inout ArraySlice<Unicode.Scalar>) -> Bool {
        guard let base = scalars.popFirst() else { return false }
        if regionalIndicators.contains(base.value) {
            guard let second = scalars.popFirst() else { return false }
            return regionalIndicators.contains(second.value)
        }
        if "0123456789#*".unicodeScalars.contains(base) {
            return scalars.popFirst() == presentation && scalars.popFirst() == keycap
        }
        guard base.properties.isEmoji, !base.properties.isEmojiModifier else { return false }
        var shown = base.properties.isEmojiPresentation
        if scalars.first?.properties.isEmojiModifier == true {
            guard base.properties.isEmojiModifierBase else { return false }
            scalars.removeFirst()
            shown = true
        }
        if scalars.first == presentation {
            scalars.removeFirst()
            shown = true
        }
        if base == blackFlag, let first = scalars.first, tags.contains(first.value) {
            while let tag = scalars.first, tags.contains(tag.value) { scalars.removeFirst() }
            guard scalars.popFirst()?.value == cancelTag else { return false }
        }
        return shown
    }
}
