import Foundation
import NIOCore
import ParleyCore

/// The server's own frames: replies, errors, `hello`, `replay.done`. Events travel as the bus carried them.
enum Frames {
    static func encode(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(value))
    }

    struct Hello: Encodable {
        let type = "hello"
        let conn: String
        let user: String
        let node: String
        let heartbeatMs: Int
    }

    struct ReplayDone: Encodable {
        let type = "replay.done"
        let room: String
        let truncated: Bool
    }

    struct Typing: Encodable {
        let type = "typing"
        let room: String
        let user: String
    }

    /// A member's read mark moved: `read {room, user, seq}`, so that others can show what was seen.
    struct Read: Encodable {
        let type = "read"
        let room: String
        let user: String
        let seq: Int64
    }

    /// `{"re": id, "ok": true}`, with the meeting for meeting frames, and the attendee for `media`. (A send's
    /// reply, with its message, is `ack`.)
    struct Ok: Encodable {
        let re: String
        let ok = true
        var meeting: Meeting?
        var attendee: Attendee?
    }

    /// The plain reply, `{"re": id, "ok": true}`, written by hand (`JSONText`) as `ack` is: signals and the other
    /// frequent frames take it.
    static func ok(re id: String) -> ByteBuffer {
        var json = JSONText(capacity: 32 + id.utf8.count)
        json.raw("{\"re\":")
        json.string(id)
        json.raw(",\"ok\":true}")
        return ByteBuffer(bytes: json.bytes)
    }

    /// A send's acknowledgement, `{"re": id, "ok": true, "message": {…}}`, written by hand (`JSONText`): Foundation's
    /// encoder cost a twentieth of a WS node's CPU at a few thousand sends a second.
    static func ack(re id: String, _ message: Message) -> ByteBuffer {
        var json = JSONText()
        json.raw("{\"re\":")
        json.string(id)
        json.raw(",\"ok\":true,\"message\":")
        json.message(message)
        json.raw("}")
        return ByteBuffer(bytes: json.bytes)
    }

    /// `{"type": "error", "re": id?, "ok": false, "error": {code, message}}`.
    struct Failure: Encodable {
        struct Body: Encodable {
            let code: String
            let message: String
        }
        let type = "error"
        let re: String?
        let ok = false
        let error: Body

        init(re: String?, _ error: ParleyError) {
            self.re = re
            self.error = Body(code: error.code.rawValue, message: error.message)
        }
    }

    /// `presence {room, user, online}`, on each of the user's rooms.
    struct PresenceChanged: Encodable, Sendable {
        let type = "presence"
        let room: String
        let user: String
        let online: Bool
    }

    /// Sent on a user's channel at sign-out: the sockets of the session close with 4001, or every socket of the
    /// user's when `session` is nil (signed out everywhere).
    struct SessionClosed: Encodable {
        let type = "session.closed"
        let session: String?
    }

    /// Sent on `Channel.sessions`, which every node hears: these sessions' access tokens are no good any more.
    struct SessionsRevoked: Encodable {
        let type = "sessions.revoked"
        let sessions: [String]
    }
}
