import ParleyCore
import Testing

@Suite("The rules of mentions, reactions and search queries")
struct ChatRulesTests {
    @Test("@username names a user at the start of a word, lowercased, without trailing punctuation")
    func mentions() {
        #expect(Mention.usernames(in: "hi @Bob, and @carol.smith. see mail@example.com or @@x @ab @dave_") == ["bob", "carol.smith", "dave"])
        #expect(Mention.usernames(in: "no mentions here") == [])
        let many = (0..<30).map { "@user\($0)" }.joined(separator: " ")
        #expect(Mention.usernames(in: many).count == Mention.maxPerMessage)
    }

    @Test("a reaction is one emoji, with its modifiers and joiners, and nothing else")
    func emoji() throws {
        let scotland = "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}"
        for good in ["👍", "👍🏽", "❤️", "🇫🇷", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🧑🏽‍🚀", "1️⃣", "#️⃣", "©️", "👁️‍🗨️", scotland] {
            #expect(try Validate.emoji(good) == good)
        }
        let invisible = ["\u{FE0F}", "\u{200D}\u{FE0F}", "😀" + String(repeating: "\u{FE0F}", count: 20), "😀\u{FE0F}\u{FE0F}", "1\u{FE0F}", "😀\u{200D}"]
        for bad in ["", "a", "1", "#", "❤", "👍👍", "ok👍", "©", "<script>", "🏽", "🇫", "😀🏽"] + invisible {
            #expect(throws: ParleyError.self, "\(bad)") { try Validate.emoji(bad) }
        }
    }

    @Test("a search query keeps its words, lowercased and once each, and nothing of either database's syntax")
    func searchQuery() throws {
        let query = try SearchQuery("  Deploy \"OR\" deploy* NEAR(x) café-au-lait ", room: nil, limit: nil, offset: nil)
        #expect(query.terms == ["deploy", "or", "near", "x", "café", "au", "lait"])
        #expect(throws: ParleyError.self) { try SearchQuery("\")(*", room: nil, limit: nil, offset: nil) }
        #expect(throws: ParleyError.self) { try SearchQuery("a b c d e f g h i", room: nil, limit: nil, offset: nil) }
        #expect(throws: ParleyError.self) { try SearchQuery("ok", room: nil, limit: nil, offset: -1) }
        #expect(throws: ParleyError.self) { try SearchQuery("ok", room: nil, limit: 0, offset: nil) }
    }
}
