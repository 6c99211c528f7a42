/// A search of messages, as `GET /api/search` asks for it: the words to find, each as the start of a word of the
/// message, and which page of the ranked results.
public struct SearchQuery: Hashable, Sendable {
    /// Lowercased runs of letters and digits: the query's other characters only separate them, so that no search
    /// syntax of either database reaches it.
    public var terms: [String]
    /// Only this room's messages; nil searches every room of the caller's.
    public var room: String?
    public var limit: Int
    public var offset: Int

    public static let maxTerms = 8
    public static let maxOffset = 1_000

    public init(terms: [String], room: String? = nil, limit: Int = Limits.defaultPageSize, offset: Int = 0) {
        self.terms = terms
        self.room = room
        self.limit = limit
        self.offset = offset
    }

    /// Reads `q` (`Validate.query`) into its words; `invalid_field` for a query without one.
    public init(_ q: String, room: String?, limit: Int?, offset: Int?) throws {
        var terms: [String] = []
        for word in try Validate.query(q).lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }) where !terms.contains(String(word)) {
            terms.append(String(word))
        }
        guard !terms.isEmpty else { throw ParleyError.invalid("q", "must hold a word") }
        guard terms.count <= Self.maxTerms else { throw ParleyError.invalid("q", "may hold at most \(Self.maxTerms) words") }
        let offset = offset ?? 0
        guard (0...Self.maxOffset).contains(offset) else { throw ParleyError.invalid("offset", "must be 0 to \(Self.maxOffset)") }
        self.init(terms: terms, room: room, limit: try Validate.pageSize(limit), offset: offset)
    }
}
