import NIOCore
import ParleyCore

/// The few fields of an `Event` the gateway routes it by. Decoded once per bus message, however many sockets it
/// reaches; the payload itself is written to each socket as it came.
struct EventHeader: Sendable {
    /// Nil for a type this node does not know, such as a newer node's during a rolling upgrade: such an event is
    /// routed by its channel and fields alone, and passed on as it came.
    var kind: Event.Kind?
    /// The room's id; nil where `room` is not an id (`room.added` carries the whole room).
    var room: String?
    var seq: Int64?
    /// The user a member or presence event is about.
    var user: String?
    /// For events aimed at one connection (node channel): its id.
    var to: String?
    /// A signal's sender.
    var from: String?
    /// The meeting's id: given as is in attendee events and signals, as the `id` of the meeting object in
    /// meeting events.
    var meeting: String?
    /// The session a `session.closed` ends; nil for all of the user's.
    var session: String?

    /// The header of an event's JSON, read by `JSONReader`; nil when it is no JSON object with a string `type`. A
    /// field that is missing, or of another type, is nil.
    static func decode(_ payload: ByteBuffer) -> EventHeader? {
        guard let event = try? payload.withUnsafeReadableBytes({ try JSONReader.parse($0) }), let type = event["type"].string else {
            return nil
        }
        return EventHeader(
            kind: Event.Kind(rawValue: type), room: event["room"].string, seq: event["seq"].integer, user: event["user"].string,
            to: event["to"].string,
            from: event["from"].string, meeting: event["meeting"].string ?? event["meeting"]["id"].string, session: event["session"].string)
    }
}
