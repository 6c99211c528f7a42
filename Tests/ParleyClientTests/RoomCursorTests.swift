import ParleyClient
import Testing

@Suite("Room cursor: once, in order, gaps filled")
struct RoomCursorTests {
    @Test("the next seq is delivered, repeats are dropped, and a jump asks for the range between")
    func actions() {
        let cursor = RoomCursor(lastSeq: 41)
        #expect(cursor.action(for: 42) == .deliver)
        #expect(cursor.action(for: 41) == .drop)
        #expect(cursor.action(for: 7) == .drop)
        #expect(cursor.action(for: 45) == .fill(after: 41, before: 45))
    }

    @Test("a stream with repeats, reordering and a gap comes out once and in order")
    func stream() {
        var cursor = RoomCursor(lastSeq: 0)
        let history: [Int64] = Array(1...10)
        var delivered: [Int64] = []
        // 1, 2, 2 again, then 5 (3 and 4 lost), then a late 4, then 6.
        for seq: Int64 in [1, 2, 2, 5, 4, 6] {
            switch cursor.action(for: seq) {
            case .drop: continue
            case .deliver: break
            case .fill(let after, let before):
                for missing in history where missing > after && missing < before {
                    delivered.append(missing)
                    cursor.delivered(missing)
                }
            }
            delivered.append(seq)
            cursor.delivered(seq)
        }
        #expect(delivered == [1, 2, 3, 4, 5, 6])
        #expect(cursor.lastSeq == 6)
    }
}
