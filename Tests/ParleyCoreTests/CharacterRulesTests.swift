import Foundation
import ParleyCore
import Testing

@Suite("The characters a string may hold")
struct CharacterRulesTests {
    func refused(_ body: () throws -> Any) -> Bool {
        do {
            _ = try body()
            return false
        } catch let error as ParleyError {
            return error.code == .invalidField
        } catch let refused as ClientFrame.Refused {
            return refused.error.code == .invalidField
        } catch {
            return false
        }
    }

    @Test("control characters are refused everywhere, but tab and newline in text")
    func controls() throws {
        for control in ["\u{0}", "\u{1}", "\r", "\u{1B}", "\u{7F}", "\u{85}", "\u{9F}"] {
            #expect(refused { try Validate.text("I owe you $100\(control) - just kidding") }, "\(control.unicodeScalars.first!.value)")
            #expect(refused { try Validate.name("Ali\(control)ce") })
            #expect(refused { try Validate.query("al\(control)") })
        }
        #expect(refused { try Validate.password(String(repeating: "\u{0}", count: 8)) })
        #expect(try Validate.text("line one\n\tline two") == "line one\n\tline two")
        #expect(refused { try Validate.name("two\nlines") })
        #expect(refused { try Validate.name("tab\tbed") })
        #expect(refused { try Validate.text(" \n\t ") })
        // Not a control: U+00A0 and a lone 0xC2-led letter (é is C3 A9, ¡ is C2 A1).
        #expect(try Validate.text("¡olé\u{A0}!") == "¡olé\u{A0}!")
    }

    @Test("bidi overrides, invisible-only text and stacks of combining marks are refused; text is stored NFC")
    func readable() throws {
        #expect(refused { try Validate.text("pay \u{202E}gnp.exe") })
        #expect(refused { try Validate.text("a \u{2066}b\u{2069}") })
        #expect(refused { try Validate.text("\u{200B}\u{200B}\u{2060}") })
        #expect(refused { try Validate.text("\u{3164}") })
        #expect(refused { try Validate.name("\u{3164}") })
        #expect(refused { try Validate.text("Z" + String(repeating: "\u{301}", count: 20_000)) })
        // q has no precomposed form with an acute: NFC leaves every mark in place.
        #expect(refused { try Validate.text("q" + String(repeating: "\u{301}", count: Validate.combiningRun + 1)) })
        #expect(try Validate.text("q" + String(repeating: "\u{301}", count: Validate.combiningRun)).unicodeScalars.count == 1 + Validate.combiningRun)
        // Joiners between the marks do not start a new character.
        #expect(refused { try Validate.text("a" + String(repeating: String(repeating: "\u{301}", count: 8) + "\u{200D}", count: 1000)) })
        #expect(refused { try Validate.text("a" + String(repeating: "\u{301}\u{200C}", count: 20)) })
        #expect(try Validate.text("e\u{301}") == "\u{E9}")
        #expect(try Validate.text("e\u{301}").unicodeScalars.count == 1)
        #expect(try Validate.name("  Ann\u{E9}e  ") == "Ann\u{E9}e")
    }

    @Test("names take emoji, ZWJ sequences and keycaps among them")
    func emoji() throws {
        for name in ["👩‍💻 Dana", "👨‍👩‍👧", "🏳️‍🌈", "1️⃣ first", "Zoë 🇫🇷", "👨🏽‍👩🏽‍👧🏽‍👦🏽", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"] {
            #expect(try Validate.name(name) == name.precomposedStringWithCanonicalMapping)
        }
    }

    @Test("a frame's string fields refuse control characters (text keeps its newlines); a signal's payload passes as it is")
    func frames() throws {
        for frame in [
            #"{"type":"send","room":"r\u0000","text":"hi"}"#, #"{"type":"send","room":"r","text":"a\u0000b"}"#, #"{"type":"typing\r"}"#,
            #"{"type":"subscribe","rooms":[{"room":"r\u0000"}]}"#,
        ] {
            #expect(refused { try ClientFrame(json: try JSONReader.parse(frame)) }, "\(frame)")
        }
        let send = try ClientFrame(json: try JSONReader.parse(#"{"type":"send","room":"r","clientId":"c","text":"a\nb"}"#))
        #expect(send.body == .send(room: "r", clientId: "c", text: "a\nb"))
        // The refusal names the frame it answers.
        #expect(throws: ClientFrame.Refused.self) { try ClientFrame(json: try JSONReader.parse(#"{"type":"send","id":"7","room":"r\u0001"}"#)) }
        do {
            _ = try ClientFrame(json: try JSONReader.parse(#"{"type":"send","id":"7","room":"r\u0001"}"#))
        } catch let refused as ClientFrame.Refused {
            #expect(refused.id == "7" && refused.error.message.hasPrefix("room"))
        }
        let signal = try ClientFrame(
            json: try JSONReader.parse(
                #"{"type":"signal","meeting":"m","to":"c","kind":"offer","payload":{"sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}}"#))
        guard case .signal(_, _, _, let payload) = signal.body else {
            Issue.record("not a signal: \(signal)")
            return
        }
        #expect(payload?["sdp"].string?.hasSuffix("\r\n") == true)
    }
}
