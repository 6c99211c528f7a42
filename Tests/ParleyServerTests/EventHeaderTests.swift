import NIOCore
import Testing

@testable import ParleyServer

@Suite("Event headers")
struct EventHeaderTests {
    @Test("the routing fields are read from every shape of event; a room or meeting given as an object is read as such")
    func shapes() throws {
        let message = try #require(Self.header(#"{"type":"message.created","room":"r_1","seq":7,"sender":"u_1","text":"hi"}"#))
        #expect(message.kind == .messageCreated && message.room == "r_1" && message.seq == 7)
        #expect(message.user == nil && message.to == nil && message.from == nil && message.meeting == nil)

        let added = try #require(Self.header(#"{"type":"room.added","room":{"id":"r_2","name":"Team"}}"#))
        #expect(added.kind == .roomAdded && added.room == nil)

        let ringing = try #require(Self.header(#"{"type":"meeting.ringing","meeting":{"id":"m_1","room":"r_1"}}"#))
        #expect(ringing.meeting == "m_1" && ringing.room == nil)

        let signal = try #require(
            Self.header(#"{"type":"signal","meeting":"m_2","from":"ws-1~a.1","to":"ws-2~b.3","kind":"offer","payload":{"sdp":"v=0"}}"#))
        #expect(signal.meeting == "m_2" && signal.from == "ws-1~a.1" && signal.to == "ws-2~b.3")

        let presence = try #require(Self.header(#"{"type":"presence","room":"r_1","user":"u_9","online":true}"#))
        #expect(presence.user == "u_9" && presence.room == "r_1")
    }

    @Test("an event without a type, or not JSON, has no header")
    func invalid() throws {
        #expect(Self.header(#"{"room":"r_1"}"#) == nil)
        #expect(Self.header("not json") == nil)
        // A type this node does not know (a newer node's) is still routed by its fields.
        let newer = try #require(Self.header(#"{"type":"no.such.event","room":"r_1"}"#))
        #expect(newer.kind == nil && newer.room == "r_1")
    }

    private static func header(_ json: String) -> EventHeader? {
        EventHeader.decode(ByteBuffer(string: json))
    }
}
