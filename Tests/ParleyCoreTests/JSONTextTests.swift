import Foundation
import ParleyCore
import Testing

@Suite("JSON written by hand")
struct JSONTextTests {
    /// Strings that need escaping, and some that do not.
    static let awkward: [String] = [
        "", "plain", #"a "quoted" word"#, #"back\slash"#, "line\nbreak\r\n\ttab", "slash / and </script>",
        String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), "\u{7f}\u{85}\u{2028}\u{2029}", "日本語 ✓ 🎉👩‍👩‍👧",
    ]

    @Test("a message reads back as the message, and as the same JSON object Foundation's encoder writes")
    func message() throws {
        for (n, text) in Self.awkward.enumerated() {
            for deleted in [false, true] {
                let message = Message(
                    room: "r_\(text)", seq: Int64(n) * 1_000_000_007, clientId: text, sender: "u\"\(n)", text: deleted ? nil : text,
                    sentAt: Timestamp(milliseconds: 1_795_511_416_995 + Int64(n)),
                    deletedAt: deleted ? Timestamp(milliseconds: 1_795_511_417_000) : nil)
                var json = JSONText()
                json.message(message)
                let written = Data(json.bytes)
                #expect(try JSONDecoder().decode(Message.self, from: written) == message)
                let ours = try JSONSerialization.jsonObject(with: written) as? NSDictionary
                let foundation = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(message)) as? NSDictionary
                #expect(ours != nil && ours == foundation)
            }
        }
    }

    @Test("strings and nulls read back as written")
    func strings() throws {
        var json = JSONText()
        json.raw("[")
        for text in Self.awkward {
            json.string(text)
            json.raw(",")
        }
        json.string(nil as String?)
        json.raw("]")
        #expect(try JSONDecoder().decode([String?].self, from: Data(json.bytes)) == Self.awkward + [nil])
    }

    @Test("any value written reads back as itself, by our reader and by Foundation's")
    func values() throws {
        var random = SeededRandom(seed: 11)
        for _ in 0..<300 {
            let value = JSONReaderTests.randomValue(depth: 0, &random)
            var json = JSONText()
            json.value(value)
            let ours = try json.bytes.withUnsafeBytes(JSONReader.parse)
            let foundations = try JSONDecoder().decode(JSONValue.self, from: Data(json.bytes))
            #expect(JSONReaderTests.same(ours, value) && JSONReaderTests.same(foundations, value), "\(String(decoding: json.bytes, as: UTF8.self))")
        }
    }
}
