import Foundation
import NIOCore
import NIOFoundationCompat

/// The few fields the gateway routes an event by. Decoded once per bus message, however many sockets it reaches;
/// the payload itself is written to each socket as it came.
struct EventHeader: Decodable, Sendable {
    var type: String
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

    private enum CodingKeys: String, CodingKey {
        case type, room, seq, user, to, from, meeting
    }

    private struct MeetingObject: Decodable {
        var id: String
    }

    /// A field that is missing is nil without an error thrown (and built) for it; one of another type is nil too.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        room = try? container.decodeIfPresent(String.self, forKey: .room)
        seq = try? container.decodeIfPresent(Int64.self, forKey: .seq)
        user = try? container.decodeIfPresent(String.self, forKey: .user)
        to = try? container.decodeIfPresent(String.self, forKey: .to)
        from = try? container.decodeIfPresent(String.self, forKey: .from)
        meeting =
            (try? container.decodeIfPresent(String.self, forKey: .meeting))
            ?? (try? container.decodeIfPresent(MeetingObject.self, forKey: .meeting))?.id
    }

    static func decode(_ payload: ByteBuffer) -> EventHeader? {
        try? JSONDecoder().decode(EventHeader.self, from: payload)
    }

    /// A new message: these are replayed, deduplicated and gap-filled by `seq`.
    var isMessageCreated: Bool { type == "message.created" }

    /// `attendee.joined`, `attendee.left`, `attendee.media`: for the meeting's attendees, not the whole room.
    var isAttendeeEvent: Bool { type.hasPrefix("attendee.") }
}
