/// A frame from a client, as docs/protocol.md describes it: an optional `id`, which asks for a reply, and what the
/// frame asks for.
public struct ClientFrame: Hashable, Sendable {
    /// Set when the client wants a reply: `{"re": id, "ok": …}`.
    public var id: String?
    public var body: Body

    public init(id: String? = nil, _ body: Body) {
        self.id = id
        self.body = body
    }

    /// Each frame type with its fields.
    public enum Body: Hashable, Sendable {
        /// Each room with the last `seq` the client holds: what came after is replayed, then live events follow.
        case subscribe([RoomCursor])
        case unsubscribe([String])
        /// `text` is empty when only `files` (up to 10 ids of files the sender uploaded to the room) are sent;
        /// `replyTo` is the seq of the message it answers.
        case send(room: String, clientId: String, text: String, files: [String] = [], replyTo: Int64? = nil)
        /// Changes the text of one of the sender's messages; the reply carries the message as it is now.
        case edit(room: String, seq: Int64, text: String)
        /// Adds the sender's emoji to a message, or takes it back (`remove`).
        case react(room: String, seq: Int64, emoji: String, remove: Bool = false)
        case typing(room: String)
        case read(room: String, seq: Int64)
        /// Renews the socket's access token.
        case auth(token: String)
        case ping
        case meetingStart(room: String)
        case meetingAccept(meeting: String)
        case meetingDecline(meeting: String)
        case meetingEnd(meeting: String)
        /// Joins with this connection; the media fields the client leaves out take their defaults (`MediaState()`).
        case meetingJoin(meeting: String, media: MediaChange)
        case meetingLeave(meeting: String)
        /// Changes this connection's media state; fields left out keep theirs.
        case media(meeting: String, MediaChange)
        case signal(meeting: String, to: String, kind: SignalKind, payload: JSONValue?)
    }

    /// The value of `type` on the wire, one for each kind of frame.
    public enum Kind: String, Sendable, CaseIterable {
        case subscribe, unsubscribe, send, edit, react, typing, read, auth, ping
        case meetingStart = "meeting.start"
        case meetingAccept = "meeting.accept"
        case meetingDecline = "meeting.decline"
        case meetingEnd = "meeting.end"
        case meetingJoin = "meeting.join"
        case meetingLeave = "meeting.leave"
        case media
        case signal
    }

    public var kind: Kind {
        switch body {
        case .subscribe: .subscribe
        case .unsubscribe: .unsubscribe
        case .send: .send
        case .edit: .edit
        case .react: .react
        case .typing: .typing
        case .read: .read
        case .auth: .auth
        case .ping: .ping
        case .meetingStart: .meetingStart
        case .meetingAccept: .meetingAccept
        case .meetingDecline: .meetingDecline
        case .meetingEnd: .meetingEnd
        case .meetingJoin: .meetingJoin
        case .meetingLeave: .meetingLeave
        case .media: .media
        case .signal: .signal
        }
    }

    /// A room of `subscribe`, with the last `seq` the client holds.
    public struct RoomCursor: Codable, Sendable, Hashable {
        public var room: String
        public var since: Int64?

        public init(room: String, since: Int64? = nil) {
            self.room = room
            self.since = since
        }
    }

    /// The media fields of `meeting.join` and `media`; nil where the client left one out.
    public struct MediaChange: Codable, Sendable, Hashable {
        public var audio: Bool?
        public var video: Bool?
        public var screen: Bool?

        public init(audio: Bool? = nil, video: Bool? = nil, screen: Bool? = nil) {
            self.audio = audio
            self.video = video
            self.screen = screen
        }

        public init(_ media: MediaState) {
            self.init(audio: media.audio, video: media.video, screen: media.screen)
        }

        /// `state` with the fields given here changed.
        public func applied(to state: MediaState) -> MediaState {
            MediaState(audio: audio ?? state.audio, video: video ?? state.video, screen: screen ?? state.screen)
        }
    }
}

/// The close codes of the WebSocket gateway, besides the standard ones.
public enum CloseCode {
    /// The access token expired and was not renewed with an `auth` frame.
    public static let tokenExpired: UInt16 = 4401
    /// The client read too slowly and its send queue overflowed; reconnect and resume with `since`.
    public static let slowConsumer: UInt16 = 4008
    /// The node is restarting or stopping (graceful drain): reconnect at once, to another node.
    public static let serviceRestart: UInt16 = 1012
    /// The user signed out.
    public static let signedOut: UInt16 = 4001
}
