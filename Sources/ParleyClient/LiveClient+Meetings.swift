import ParleyCore

/// Meetings and signaling over the socket.
extension LiveClient {
    /// Starts a meeting in a room, or returns the room's open one.
    public func startMeeting(room: String) async throws -> Meeting {
        try meeting(of: try await request(.meetingStart(room: room)))
    }

    /// Joins with this connection and returns the meeting with its attendees, this connection among them.
    @discardableResult
    public func joinMeeting(_ meeting: String, media: MediaState = MediaState()) async throws -> Meeting {
        try self.meeting(of: try await request(.meetingJoin(meeting: meeting, media: .init(media))))
    }

    public func leaveMeeting(_ meeting: String) async throws {
        try await request(.meetingLeave(meeting: meeting))
    }

    public func setMedia(_ meeting: String, _ media: MediaState) async throws {
        try await request(.media(meeting: meeting, .init(media)))
    }

    /// Relays a signal to another attendee's connection; throws `peer_gone` when its node is gone. A target that is
    /// not in the meeting is answered by its node with an `error` event (`peer_gone`, with `peer` and `meeting`).
    public func signal(_ meeting: String, to conn: String, kind: SignalKind, payload: JSONValue) async throws {
        try await request(.signal(meeting: meeting, to: conn, kind: kind, payload: payload))
    }

    private func meeting(of reply: Reply) throws -> Meeting {
        guard let meeting = reply.meeting else { throw ParleyError(.internal, "the server's reply has no meeting") }
        return meeting
    }
}
