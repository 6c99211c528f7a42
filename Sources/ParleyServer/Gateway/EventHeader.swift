import Foundation
import NIOCore
import NIOFoundationCompat

/// The few fields the gateway routes an event by. Decoded once per bus message, however many sockets it reaches;
/// the payload itself is written to each socket as it came.
struct EventHeader: Decodable, Sendable {
    var type: String
    var room: String?
    var seq: Int64?
    /// For events aimed at one connection (node channel): its id.
    var to: String?

    static func decode(_ payload: ByteBuffer) -> EventHeader? {
        try? JSONDecoder().decode(EventHeader.self, from: payload)
    }

    /// A new message: these are replayed, deduplicated and gap-filled by `seq`.
    var isMessageCreated: Bool { type == "message.created" }
}
