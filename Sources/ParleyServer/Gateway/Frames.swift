import Foundation
import NIOCore
import ParleyCore

/// The protocol's types (ParleyCore's `Event` and `Reply`) as the bytes of a text frame.
enum Frames {
    static func encode(_ event: Event) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(event))
    }

    /// A reply. The frequent ones, a send's acknowledgement and the plain `{"re": id, "ok": true}` of signals, pings
    /// and the like, are written by hand (`JSONText`): every send and every signal gets one.
    static func reply(re id: String, message: Message? = nil) -> ByteBuffer {
        var json = JSONText(capacity: 32 + id.utf8.count + (message == nil ? 0 : 256))
        json.reply(re: id, message: message)
        return ByteBuffer(bytes: json.bytes)
    }

    /// Any reply, such as a meeting frame's, which carries the meeting or the attendee.
    static func reply(_ reply: Reply) throws -> ByteBuffer {
        guard reply.meeting != nil || reply.attendee != nil else { return Self.reply(re: reply.re, message: reply.message) }
        return ByteBuffer(bytes: try JSONEncoder().encode(reply))
    }

    /// `{"re": id, "ok": true}`.
    static func ok(re id: String) -> ByteBuffer {
        reply(re: id)
    }

    /// A relayed signal, written by hand (`JSONText`): every signal is encoded here.
    static func signal(_ signal: RelayedSignal) -> ByteBuffer {
        var json = JSONText(capacity: 256)
        json.signal(signal)
        return ByteBuffer(bytes: json.bytes)
    }

    /// The `error` frame of a frame that failed, in reply to `re` when it had an id.
    static func failure(re: String?, _ error: ParleyError) -> ByteBuffer? {
        try? encode(.error(ErrorFrame(re: re, error)))
    }
}
