import Foundation
import NIOCore
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Replies written by hand")
struct FramesTests {
    /// An id with what JSON must escape, and a slash, which Foundation's encoder escapes and `JSONText` need not.
    static let id = "r/1 \"quoted\" \\ \n\u{1}"

    @Test("the plain reply reads back as the same object Foundation's encoder writes")
    func plainReply() throws {
        let ours = try JSONSerialization.jsonObject(with: Data(buffer: Frames.ok(re: Self.id))) as? NSDictionary
        let foundations = try JSONSerialization.jsonObject(with: Data(buffer: try Frames.encode(Frames.Ok(re: Self.id)))) as? NSDictionary
        #expect(ours != nil && ours == foundations)
    }

    @Test("a send's acknowledgement reads back with its id, ok and message")
    func acknowledgement() throws {
        let message = Message(
            room: "r_1", seq: 7, clientId: "c/1", sender: "u_1", text: "hi \"there\"", sentAt: Timestamp(milliseconds: 1_700_000_000_123))
        struct Ack: Decodable {
            let re: String
            let ok: Bool
            let message: Message
        }
        let ack = try JSONDecoder().decode(Ack.self, from: Data(buffer: Frames.ack(re: Self.id, message)))
        #expect(ack.re == Self.id && ack.ok && ack.message == message)
    }
}
