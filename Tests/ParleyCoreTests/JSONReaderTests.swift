import Foundation
import ParleyCore
import Testing

@Suite("JSON read by hand")
struct JSONReaderTests {
    static let valid: [String] = [
        "null", "true", "false", "0", "-0", "7", "-12", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "1.5", "-0.25", "1e3", "1E-3", "2.5e+10", "123456789012345678901234567890", #""""#, #""plain""#,
        #""a \"quoted\" \\ \/ \b\f\n\r\t word""#, #""\u0041\u00e9\u4e2d\ud83c\udf89""#, "\"日本語 ✓ 🎉👩‍👩‍👧\"", "[]", "{}",
        " \t\r\n[ 1 , \"two\" , [ null ] , { } ] \n", #"{"a":{"b":{"c":[1,2,{"d":"e"}]}},"f":false}"#, #"{"k":1,"k":2}"#,
        #"{"type":"signal","payload":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}"#,
    ]

    static let invalid: [String] = [
        "", " ", "nul", "tru", "True", "[1 2]", "{\"a\" 1}", "{a:1}", "{\"a\":}", "[", "]", "{",
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "1e400", "\"open", "\"tab\there\"", "\"\\x\"",
        "\"\\u12\"", "\"\\ud83c\"", "\"\\udf89\"", "\"\\ud83c\\u0041\"", "[] []", "'single'", "[1]x",
    ]

    /// Not JSON by RFC 8259, which Foundation's decoder takes all the same.
    static let lenient: [String] = ["[1,]", "{\"a\":1,}", "\u{feff}[]"]

    @Test("valid JSON reads as Foundation's decoder reads it")
    func valid() throws {
        for text in Self.valid {
            let ours = try JSONReader.parse(text)
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(Self.same(ours, foundation), "\(text): \(ours) against \(foundation)")
        }
        #expect(try JSONReader.parse(#"{"k":1,"k":2}"#)["k"] == .int(1))
        #expect(try JSONReader.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONReader.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONReader.parse("1.0") == .double(1))
    }

    @Test("text that is not JSON throws, as Foundation's decoder does")
    func invalid() {
        for text in Self.invalid {
            #expect(throws: JSONReader.Malformed.self, "\(text)") { try JSONReader.parse(text) }
            #expect(throws: (any Error).self, "Foundation: \(text)") { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
        }
        for text in Self.lenient {
            #expect(throws: JSONReader.Malformed.self, "\(text)") { try JSONReader.parse(text) }
        }
        // Bytes that are not UTF-8, inside a string.
        #expect(throws: JSONReader.Malformed.self) { try [UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")].withUnsafeBytes(JSONReader.parse) }
    }

    @Test("arrays and objects nest up to the limit, and no deeper")
    func depth() throws {
        let deepest = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        #expect(throws: Never.self) { try JSONReader.parse(deepest) }
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.parse("[" + deepest + "]") }
        #expect(throws: JSONReader.Malformed.self) { try JSONReader.parse(String(repeating: #"{"a":"#, count: 100_000)) }
    }

    @Test("random values written by Foundation's encoder read back as themselves")
    func roundTrip() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, &random)
            let text = try JSONEncoder().encode(value)
            let ours = try text.withUnsafeBytes(JSONReader.parse)
            #expect(Self.same(ours, value), "\(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test("a client frame reads as its typed body, reads back from what a Swift client encodes, and fails by its shape or its fields")
    func clientFrames() throws {
        func parse(_ text: String) throws -> ClientFrame { try Array(text.utf8).withUnsafeBytes { try ClientFrame(json: $0) } }
        let read: [(String, ClientFrame)] = [
            (#"{"type":"ping"}"#, ClientFrame(.ping)), (#"{"type":"ping","id":"1"}"#, ClientFrame(id: "1", .ping)),
            (
                #"{"type":"send","id":"a\"b","room":"r_1","clientId":"c","text":"hi\n🎉"}"#,
                ClientFrame(id: "a\"b", .send(room: "r_1", clientId: "c", text: "hi\n🎉"))
            ),
            (
                #"{"type":"subscribe","rooms":[{"room":"r_1","since":5},{"room":"r_2"},{"room":"r_3","since":null}]}"#,
                ClientFrame(.subscribe([.init(room: "r_1", since: 5), .init(room: "r_2"), .init(room: "r_3")]))
            ),
            (#"{"type":"read","room":"r_1","seq":9223372036854775807}"#, ClientFrame(.read(room: "r_1", seq: .max))),
            (
                #"{"type":"signal","meeting":"m_1","to":"ws-1~a.1","kind":"candidate","payload":{"candidate":"","sdpMLineIndex":0}}"#,
                ClientFrame(
                    .signal(meeting: "m_1", to: "ws-1~a.1", kind: .candidate, payload: .object(["candidate": .string(""), "sdpMLineIndex": .int(0)])))
            ),
            (
                #"{"type":"media","meeting":"m_1","audio":true,"video":false,"screen":null}"#,
                ClientFrame(.media(meeting: "m_1", .init(audio: true, video: false)))
            ),
            (#"{"type":"auth","token":"x.y.z","unknown":[1,{"deep":true}]}"#, ClientFrame(.auth(token: "x.y.z"))),
        ]
        for (text, frame) in read {
            #expect(try parse(text) == frame, "\(text)")
            // What a Swift client encodes reads back as the same frame.
            #expect(try parse(String(decoding: try JSONEncoder().encode(frame), as: UTF8.self)) == frame, "\(text)")
        }
        // Of another shape: each is no frame at all.
        let shapeless = [
            #"{"id":"1"}"#, #"{"type":7}"#, #"{"type":null}"#, #"["type","ping"]"#, #""ping""#, #"{"type":"send","room":5}"#,
            #"{"type":"read","seq":"5"}"#, #"{"type":"read","seq":1.5}"#, #"{"type":"read","seq":99999999999999999999}"#,
            #"{"type":"signal","kind":"hello"}"#, #"{"type":"media","audio":1}"#, #"{"type":"subscribe","rooms":{"room":"r"}}"#,
            #"{"type":"subscribe","rooms":[{"since":1}]}"#, #"{"type":"subscribe","rooms":[{"room":"r","since":"1"}]}"#,
            #"{"type":"subscribe","rooms":["r"]}"#, #"{"type":"ping""#,
        ]
        for text in shapeless {
            do {
                _ = try parse(text)
                Issue.record("\(text) was read")
            } catch {
                #expect(!(error is ClientFrame.Refused), "\(text)")
            }
        }
        // Well formed, but missing what its type needs, or of no known type: refused, with the frame's id.
        let refused = [
            (#"{"type":"send","id":"9","room":null,"text":null}"#, "send needs 'room'"), (#"{"type":"read","room":"r"}"#, "read needs 'seq'"),
            (#"{"type":"signal","meeting":"m","to":"c"}"#, "signal needs 'kind'"), (#"{"type":"dance","id":"9"}"#, "unknown frame type 'dance'"),
        ]
        for (text, message) in refused {
            do {
                _ = try parse(text)
                Issue.record("\(text) was read")
            } catch let refusal as ClientFrame.Refused {
                #expect(refusal.error == ParleyError(.badRequest, message), "\(text)")
                #expect(refusal.id == (text.contains("\"id\"") ? "9" : nil), "\(text)")
            }
        }
    }

    /// Equal, with numbers compared by value: Foundation's decoder reads `1.0` as an integer.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.array(let a), .array(let b)): a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
        case (.object(let a), .object(let b)): a.count == b.count && a.allSatisfy { key, value in b[key].map { same(value, $0) } ?? false }
        case (.int, _), (.double, _): a.number != nil && a.number == b.number
        default: a == b
        }
    }

    static func randomValue(depth: Int, _ random: inout SeededRandom) -> JSONValue {
        let strings = ["", "a", "quote \" and \\ slash /", "ctrl \u{0}\u{1f}\n", "é中🎉", "\u{2028}"]
        switch Int.random(in: 0..<(depth < 4 ? 8 : 6), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &random))
        case 3: return .double(Double.random(in: -1e12...1e12, using: &random))
        case 4, 5: return .string(strings[Int.random(in: 0..<strings.count, using: &random)])
        case 6: return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in randomValue(depth: depth + 1, &random) })
        default:
            return .object(
                Dictionary(
                    (0..<Int.random(in: 0..<4, using: &random)).map { ("k\($0)\(strings[$0])", randomValue(depth: depth + 1, &random)) },
                    uniquingKeysWith: { $1 }))
        }
    }
}

/// A repeatable generator (SplitMix64), so that a failure can be run again.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
