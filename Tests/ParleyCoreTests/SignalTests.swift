import Foundation
import ParleyCore
import Testing

@Suite("Signal shapes")
struct SignalTests {
    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test("a payload keeps every kind of JSON value as it came: integers stay integers, booleans booleans")
    func jsonKinds() throws {
        let value = try Self.json(#"{"s":"x","i":3,"d":2.5,"b":true,"n":null,"a":[1,"two",false,[]],"o":{"k":{}}}"#)
        #expect(
            value
                == .object([
                    "s": .string("x"), "i": .int(3), "d": .double(2.5), "b": .bool(true), "n": .null,
                    "a": .array([.int(1), .string("two"), .bool(false), .array([])]), "o": .object(["k": .object([:])]),
                ]))
        #expect(throws: (any Error).self) { try Self.json("{") }
    }

    @Test("offers, answers and candidates in the browser's shapes pass")
    func goodShapes() throws {
        try SignalKind.offer.validate(try Self.json(#"{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}"#))
        try SignalKind.answer.validate(try Self.json(#"{"type":"answer","sdp":"v=0\r\n"}"#))
        try SignalKind.candidate.validate(
            try Self.json(
                #"{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#))
        // The end of candidates.
        try SignalKind.candidate.validate(try Self.json(#"{"candidate":"","sdpMid":null,"sdpMLineIndex":null}"#))
        try SignalKind.bye.validate(nil)
    }

    @Test("a wrong type, a missing or oversized SDP, or a malformed candidate is invalid_field")
    func badShapes() throws {
        let bad: [(SignalKind, String)] = [
            (.offer, #"{"type":"answer","sdp":"v=0"}"#),
            (.offer, #"{"type":"offer"}"#),
            (.offer, #"{"type":"offer","sdp":"hello"}"#),
            (.offer, #""v=0""#),
            (.offer, #"{"type":"offer","sdp":"v=0\#(String(repeating: "a", count: Limits.sdpBytes))"}"#),
            (.candidate, #"{"sdpMid":"0"}"#),
            (.candidate, #"{"candidate":"c","sdpMLineIndex":"zero"}"#),
            (.candidate, #"{"candidate":"c","sdpMid":42}"#),
            (.candidate, #"{"candidate":"\#(String(repeating: "c", count: Limits.candidateBytes + 1))"}"#),
        ]
        for (kind, text) in bad {
            #expect(throws: ParleyError.self, "\(kind) \(text.prefix(60))") { try kind.validate(try Self.json(text)) }
        }
    }

    @Test("a payload passes through unchanged: decoded and encoded again, it is the same JSON")
    func passThrough() throws {
        let text = #"{"type":"offer","sdp":"v=0\r\na=candidate:1 1 udp 1 ::1 9 typ host\r\n","extra":[1,2.5,true,null,"é"]}"#
        let value = try Self.json(text)
        #expect(try Self.json(String(decoding: try JSONEncoder().encode(value), as: UTF8.self)) == value)
        #expect(value["extra"][1].number == 2.5 && value["extra"][4].string == "é")
    }
}
