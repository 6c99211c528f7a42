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
        let foundations = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(Reply(re: Self.id))) as? NSDictionary
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
        let ack = try JSONDecoder().decode(Ack.self, from: Data(buffer: Frames.reply(re: Self.id, message: message)))
        #expect(ack.re == Self.id && ack.ok && ack.message == message)
    }

    @Test("a relayed signal reads back as the same object Foundation's encoder writes, with a payload and without")
    func signal() throws {
        let payload = try JSONReader.parse(#"{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","n":[1,2.5,null,true,{"/":"é🎉"}]}"#)
        for payload in [payload, nil] {
            let signal = RelayedSignal(meeting: "m/1", from: "ws-1~a.1", fromUser: Self.id, to: "ws-2~b.2", kind: .offer, payload: payload)
            let ours = try JSONSerialization.jsonObject(with: Data(buffer: Frames.signal(signal))) as? NSDictionary
            let foundations = try JSONSerialization.jsonObject(with: Data(buffer: try Frames.encode(.signal(signal)))) as? NSDictionary
            #expect(ours != nil && ours == foundations)
            #expect((ours?["payload"] != nil) == (payload != nil))
        }
    }
}
