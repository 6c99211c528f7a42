/// Reads JSON text (RFC 8259) into a `JSONValue`, for the frames every socket sends and every bus message carries:
/// Foundation's decoder would build a container per level and an error for every optional field that is missing.
///
/// Strict: one value with whitespace around it, no trailing commas, no leading zeros, strings of valid UTF-8 with
/// their escapes (a `\u` surrogate must be half of a pair), and at most `maxDepth` levels of arrays and objects. A
/// number without a fraction or exponent that fits an `Int64` is `.int`, any other `.double`. An object that
/// repeats a key keeps the first, as Foundation's decoder does. (Foundation's also takes trailing commas and a
/// byte-order mark, which RFC 8259 does not allow, and neither does this.)
public struct JSONReader {
    public static let maxDepth = 64

    /// What the text is not.
    public struct Malformed: Error, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "malformed JSON at byte \(offset): \(reason)" }
    }

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(Malformed) -> JSONValue {
        var reader = JSONReader(bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.malformed("text after the value") }
        return value
    }

    public static func parse(_ text: String) throws(Malformed) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in Result { () throws(Malformed) in try parse(UnsafeRawBufferPointer(buffer)) } }.get()
    }

    private func malformed(_ reason: String) -> Malformed { Malformed(offset: index, reason: reason) }

    private var next: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = next, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(Malformed) {
        guard next == byte else { throw malformed("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    private mutating func value(depth: Int) throws(Malformed) -> JSONValue {
        guard let byte = next else { throw malformed("the text ends where a value should be") }
        switch byte {
        case UInt8(ascii: "{"): return .object(try object(depth: depth + 1))
        case UInt8(ascii: "["): return .array(try array(depth: depth + 1))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw malformed("no value starts here")
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) throws(Malformed) -> JSONValue {
        let word = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - index >= word.count, word.indices.allSatisfy({ bytes[index + $0] == word[$0] }) else {
            throw malformed("no value starts here")
        }
        index += word.count
        return value
    }

    private mutating func object(depth: Int) throws(Malformed) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        try elements(depth: depth, closing: UInt8(ascii: "}")) { (reader) throws(Malformed) in
            guard reader.next == UInt8(ascii: "\"") else { throw reader.malformed("expected a key") }
            let key = try reader.string()
            reader.skipWhitespace()
            try reader.expect(UInt8(ascii: ":"))
            reader.skipWhitespace()
            let value = try reader.value(depth: depth)
            if object.index(forKey: key) == nil { object[key] = value }
        }
        return object
    }

    private mutating func array(depth: Int) throws(Malformed) -> [JSONValue] {
        var array: [JSONValue] = []
        try elements(depth: depth, closing: UInt8(ascii: "]")) { (reader) throws(Malformed) in
            array.append(try reader.value(depth: depth))
        }
        return array
    }

    /// An array's elements or an object's members, from the opening bracket to `closing`, comma-separated, each read
    /// by `element` from its first byte.
    private mutating func elements(
        depth: Int, closing: UInt8, _ element: (inout JSONReader) throws(Malformed) -> Void
    ) throws(Malformed) {
        guard depth <= Self.maxDepth else { throw malformed("nested deeper than \(Self.maxDepth) levels") }
        index += 1
        skipWhitespace()
        if next == closing {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard next == UInt8(ascii: ",") else { return try expect(closing) }
            index += 1
        }
    }

    /// A string, from its opening quote. The runs between escapes are taken as they are.
    private mutating func string() throws(Malformed) -> String {
        index += 1
        var utf8: [UInt8] = []
        var run = index
        while true {
            guard let byte = next else { throw malformed("a string that does not end") }
            switch byte {
            case UInt8(ascii: "\""):
                utf8.append(contentsOf: bytes[run..<index])
                index += 1
                guard let string = String(validating: utf8, as: UTF8.self) else { throw malformed("a string that is not UTF-8") }
                return string
            case UInt8(ascii: "\\"):
                utf8.append(contentsOf: bytes[run..<index])
                try escape(into: &utf8)
                run = index
            case ..<0x20:
                throw malformed("a control character in a string")
            default:
                index += 1
            }
        }
    }

    /// An escape, from its backslash, written into `utf8`.
    private mutating func escape(into utf8: inout [UInt8]) throws(Malformed) {
        index += 1
        guard let byte = next else { throw malformed("a string that does not end") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var code = UInt32(try hex4())
            if (0xD800..<0xDC00).contains(code) {
                guard next == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw malformed("a lone surrogate in a string")
                }
                index += 2
                let low = UInt32(try hex4())
                guard (0xDC00..<0xE000).contains(low) else { throw malformed("a lone surrogate in a string") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(code) else { throw malformed("a lone surrogate in a string") }
            utf8.append(contentsOf: UTF8.encode(scalar)!)
        default:
            throw malformed("an unknown escape in a string")
        }
    }

    private mutating func hex4() throws(Malformed) -> UInt16 {
        guard bytes.count - index >= 4 else { throw malformed("a \\u escape needs 4 hex digits") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let digit: UInt8
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = bytes[index] - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = bytes[index] - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = bytes[index] - UInt8(ascii: "A") + 10
            default: throw malformed("a \\u escape needs 4 hex digits")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private mutating func number() throws(Malformed) -> JSONValue {
        let start = index
        if next == UInt8(ascii: "-") { index += 1 }
        guard let first = next, isDigit(first) else { throw malformed("a number needs a digit") }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        var integral = true
        if next == UInt8(ascii: ".") {
            index += 1
            guard let digit = next, isDigit(digit) else { throw malformed("a fraction needs a digit") }
            skipDigits()
            integral = false
        }
        if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            index += 1
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { index += 1 }
            guard let digit = next, isDigit(digit) else { throw malformed("an exponent needs a digit") }
            skipDigits()
            integral = false
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let value = Int64(text) { return .int(value) }
        guard let value = Double(text), value.isFinite else { throw malformed("a number out of range") }
        return .double(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private mutating func skipDigits() {
        while let byte = next, isDigit(byte) { index += 1 }
    }
}
