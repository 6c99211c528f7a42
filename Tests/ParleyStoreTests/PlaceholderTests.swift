import Testing

@testable import ParleyStore

@Suite("Postgres placeholders")
struct PlaceholderTests {
    @Test("each ? outside quotes becomes $n in order; quoted ones and other text, multi-byte too, stay as they are")
    func numbered() {
        #expect(PostgresExecutor.numberPlaceholders("SELECT 1") == "SELECT 1")
        #expect(
            PostgresExecutor.numberPlaceholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?,?) -- é ✓ 🎉 ?")
                == "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2,$3) -- é ✓ 🎉 $4")
        let many = (1...12).map { _ in "?" }.joined(separator: ",")
        #expect(PostgresExecutor.numberPlaceholders("VALUES (\(many))") == "VALUES (\((1...12).map { "$\($0)" }.joined(separator: ",")))")
        #expect(PostgresExecutor.numberPlaceholders("'it''s ?' ?") == "'it''s ?' $1")
    }
}
