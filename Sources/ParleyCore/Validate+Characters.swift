import Foundation

/// The characters a string may hold wherever it enters Parley, and the shape of text people read.
extension Validate {
    /// Whether `value` holds a control character: C0 (but tab and newline, where `newlines` allows them), DEL or
    /// C1. Read byte by byte: C0 and DEL are single UTF-8 bytes, and C1 is 0xC2 followed by 0x80–0x9F.
    public static func holdsControls(_ value: String, newlines: Bool = false) -> Bool {
        var previous: UInt8 = 0
        for byte in value.utf8 {
            switch byte {
            case 0x09 where newlines, 0x0A where newlines:
                break
            case ..<0x20, 0x7F: return true
            case 0x80...0x9F where previous == 0xC2: return true
            default: break
            }
            previous = byte
        }
        return false
    }

    /// Throws `invalid_field` for `field` when `value` holds a control character (see `holdsControls`).
    public static func noControls(_ value: String, field: String, newlines: Bool = false) throws {
        if holdsControls(value, newlines: newlines) { throw ParleyError.invalid(field, "may not hold control characters") }
    }

    /// The most combining marks one character may carry: enough for any script's stacked accents, too few to
    /// paint over the lines around it.
    public static let combiningRun = 8
    /// The most scalars one character may hold: the longest emoji sequences (a family with skin tones, a tag
    /// flag) take a dozen.
    public static let characterScalars = 32

    /// Text as people read it, normalised to NFC: no controls (but tab and newline where `newlines` allows them),
    /// no bidi embeddings, overrides or isolates (which can make text read other than it is), not only invisible
    /// characters, and no character of more than `combiningRun` combining marks or `characterScalars` scalars.
    public static func readable(_ raw: String, field: String, newlines: Bool) throws -> String {
        try noControls(raw, field: field, newlines: newlines)
        // ASCII is NFC already, and holds no mark, bidi control or invisible character but whitespace.
        if raw.utf8.allSatisfy({ $0 < 0x80 }) {
            guard raw.utf8.contains(where: { $0 > 0x20 }) else { throw ParleyError.invalid(field, "may not be blank or only invisible characters") }
            return raw
        }
        let value = raw.precomposedStringWithCanonicalMapping
        var visible = false
        for character in value {
            var marks = 0
            for scalar in character.unicodeScalars {
                if isBidiControl(scalar) { throw ParleyError.invalid(field, "may not hold bidi embeddings, overrides or isolates") }
                switch scalar.properties.generalCategory {
                case .nonspacingMark, .enclosingMark, .spacingMark: marks += 1
                default: break
                }
                if !visible, !isInvisible(scalar) { visible = true }
            }
            guard marks <= combiningRun, character.unicodeScalars.count <= characterScalars else {
                throw ParleyError.invalid(field, "may not stack more than \(combiningRun) combining marks on a character")
            }
        }
        guard visible else { throw ParleyError.invalid(field, "may not be blank or only invisible characters") }
        return value
    }

    /// LRE, RLE, PDF, LRO, RLO (U+202A–U+202E) and LRI, RLI, FSI, PDI (U+2066–U+2069).
    private static func isBidiControl(_ scalar: Unicode.Scalar) -> Bool {
        (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }

    /// Whitespace, format characters (zero-width spaces and joiners among them), code points a renderer ignores,
    /// and the fillers that draw nothing (Hangul's, the braille blank).
    private static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        return properties.isWhitespace || properties.isDefaultIgnorableCodePoint || properties.generalCategory == .format
            || properties.generalCategory == .control || [0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800].contains(scalar.value)
    }
}
