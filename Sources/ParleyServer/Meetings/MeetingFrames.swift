import NIOCore
import ParleyCore

/// The meeting events on the wire. Each carries `room` beside `type`; `meeting` is the whole meeting in state
/// events and its id in attendee events and signals.
enum MeetingFrames {
    static func type(of state: MeetingState) -> String {
        switch state {
        case .ringing: "meeting.ringing"
        case .active: "meeting.active"
        case .ended, .declined, .missed: "meeting.ended"
        }
    }

    /// `meeting.ringing`, `meeting.active`, `meeting.ended {reason}`.
    struct StateChanged: Encodable, Sendable {
        let type: String
        let room: String
        let meeting: Meeting
        let reason: MeetingEndReason?

        init(_ meeting: Meeting, reason: MeetingEndReason?, type: String) {
            self.type = type
            self.room = meeting.room
            self.meeting = meeting
            self.reason = type == "meeting.ended" ? reason : nil
        }
    }

    /// `attendee.joined`, `attendee.left` and `attendee.media`, each with the attendee as it is now.
    struct AttendeeChanged: Encodable, Sendable {
        enum Change: String, Sendable {
            case joined = "attendee.joined"
            case left = "attendee.left"
            case media = "attendee.media"
        }

        let type: String
        let room: String
        let meeting: String
        let attendee: Attendee

        init(_ change: Change, room: String, meeting: String, attendee: Attendee) {
            self.type = change.rawValue
            self.room = room
            self.meeting = meeting
            self.attendee = attendee
        }
    }

    /// A relayed signal. `from` and `fromUser` are the sender's, set here; `to` routes it on the target's node.
    struct Signal: Encodable, Sendable {
        let type = "signal"
        let meeting: String
        let from: String
        let fromUser: String
        let to: String
        let kind: SignalKind
        let payload: JSONValue?

        /// The frame as Foundation's encoder writes it (no `payload` when there is none), written by hand
        /// (`JSONText`): Foundation's encoder took 4% of the sending node's CPU in a relay run.
        var json: ByteBuffer {
            var json = JSONText(capacity: 256)
            json.raw("{\"type\":\"signal\",\"meeting\":")
            json.string(meeting)
            json.raw(",\"from\":")
            json.string(from)
            json.raw(",\"fromUser\":")
            json.string(fromUser)
            json.raw(",\"to\":")
            json.string(to)
            json.raw(",\"kind\":")
            json.string(kind.rawValue)
            if let payload {
                json.raw(",\"payload\":")
                json.value(payload)
            }
            json.raw("}")
            return ByteBuffer(bytes: json.bytes)
        }
    }

    /// Sent back to a signal's sender (`to`) by the node of its target (`peer`) when the target does not attend
    /// the meeting, or closed before the signal reached it.
    struct PeerGone: Encodable, Sendable {
        struct Body: Encodable, Sendable {
            let code = ParleyError.Code.peerGone.rawValue
            let message: String
        }
        let type = "error"
        let ok = false
        let to: String
        let peer: String
        let meeting: String?
        let error: Body
    }
}
