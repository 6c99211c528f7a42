import Foundation
import ParleyCore

extension SQLStore {
    static let meetingColumns = "mt.id, mt.room_id, mt.host_id, mt.state, mt.started_at, mt.rings_until, mt.ended_at, mt.end_reason"

    static func meeting(from row: SQLRow, at column: Int = 0) throws -> Meeting {
        Meeting(
            id: try row.text(column),
            room: try row.text(column + 1),
            host: try row.text(column + 2),
            state: MeetingState(rawValue: try row.text(column + 3)) ?? .ended,
            startedAt: Timestamp(milliseconds: try row.int(column + 4)),
            ringsUntil: Timestamp(milliseconds: try row.int(column + 5)),
            endedAt: try row.optionalInt(column + 6).map(Timestamp.init(milliseconds:)),
            endReason: try row.optionalText(column + 7).flatMap(MeetingEndReason.init(rawValue:)))
    }

    public func startMeeting(room: String, host: String, ringSeconds: Int64) async throws -> (change: MeetingChange, created: Bool) {
        try await transaction { sql in
            _ = try await sql.role(of: host, in: room)
            // Locking the room serialises two members dialling at once: the second finds the first's meeting.
            _ = try await sql.first("SELECT id FROM rooms WHERE id = ?" + dialect.forUpdate, [.text(room)])
            if let row = try await sql.first(
                "SELECT \(Self.meetingColumns) FROM meetings mt WHERE mt.room_id = ? AND mt.state IN ('ringing', 'active')", [.text(room)])
            {
                return (try await Self.change(try Self.meeting(from: row), stateChanged: false, sql), false)
            }
            let now = Timestamp.now
            let meeting = Meeting(
                id: Identifier.make("m"), room: room, host: host, state: .ringing, startedAt: now, ringsUntil: now.adding(seconds: ringSeconds))
            try await sql.execute(
                "INSERT INTO meetings (id, room_id, host_id, state, started_at, rings_until) VALUES (?, ?, ?, 'ringing', ?, ?)",
                [.text(meeting.id), .text(room), .text(host), .int(now.milliseconds), .int(meeting.ringsUntil.milliseconds)])
            var change = try await Self.change(meeting, stateChanged: true, sql)
            change.timeline = try await Self.appendCall(meeting, CallEntry(meeting: meeting.id, outcome: .started), now: now, sql)
            return (change, true)
        }
    }

    public func meeting(_ id: String, viewer: String) async throws -> Meeting {
        try await read { sql in try await Self.withAttendees(try await Self.meeting(id, viewer: viewer, lock: "", sql), sql) }
    }

    /// Read together with those of the other sockets greeted meanwhile.
    public func openMeetings(of user: String) async throws -> [Meeting] {
        try await openMeetingReads.submit(user) { [self] users in
            let meetings = try await read { sql in
                let rows = try await sql.query(
                    """
                    SELECT rm.user_id, \(Self.meetingColumns) FROM meetings mt
                    JOIN room_members rm ON rm.room_id = mt.room_id AND rm.user_id IN (\(Self.placeholders(users.count)))
                    WHERE mt.state = 'active' OR (mt.state = 'ringing' AND NOT EXISTS
                        (SELECT 1 FROM meeting_declines d WHERE d.meeting_id = mt.id AND d.user_id = rm.user_id))
                    ORDER BY mt.started_at
                    """, users.map { .text($0) })
                var withAttendees: [String: Meeting] = [:]
                var meetings: [String: [Meeting]] = [:]
                for row in rows {
                    var meeting = try Self.meeting(from: row, at: 1)
                    if withAttendees[meeting.id] == nil { withAttendees[meeting.id] = try await Self.withAttendees(meeting, sql) }
                    meeting = withAttendees[meeting.id]!
                    meetings[try row.text(0), default: []].append(meeting)
                }
                return meetings
            }
            return users.map { meetings[$0] ?? [] }
        }
    }

    public func acceptMeeting(_ id: String, user: String) async throws -> MeetingChange {
        try await transaction { sql in
            var meeting = try await Self.meeting(id, viewer: user, lock: dialect.forUpdate, sql)
            guard meeting.state.isOpen else { throw ParleyError(.meetingEnded, "the meeting has ended") }
            guard meeting.state == .ringing, user != meeting.host else { return try await Self.change(meeting, stateChanged: false, sql) }
            try await Self.answer(&meeting, sql)
            return try await Self.change(meeting, stateChanged: true, sql)
        }
    }

    public func declineMeeting(_ id: String, user: String) async throws -> MeetingChange {
        try await transaction { sql in
            let meeting = try await Self.meeting(id, viewer: user, lock: dialect.forUpdate, sql)
            guard meeting.state == .ringing else { return try await Self.change(meeting, stateChanged: false, sql) }
            // The caller declining their own call cancels it.
            if user == meeting.host { return try await Self.finish(meeting, as: .ended, reason: .cancelled, sql) }
            try await sql.execute(
                "INSERT INTO meeting_declines (meeting_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(id), .text(user)])
            let undecided = try await sql.first(
                """
                SELECT COUNT(*) FROM room_members rm WHERE rm.room_id = ? AND rm.user_id <> ?
                AND NOT EXISTS (SELECT 1 FROM meeting_declines d WHERE d.meeting_id = ? AND d.user_id = rm.user_id)
                """, [.text(meeting.room), .text(meeting.host), .text(id)]
            )!.int(0)
            guard undecided == 0 else { return try await Self.change(meeting, stateChanged: false, sql) }
            return try await Self.finish(meeting, as: .declined, reason: .declined, sql)
        }
    }

    public func endMeeting(_ id: String, actor: String) async throws -> MeetingChange {
        try await transaction { sql in
            let meeting = try await Self.meeting(id, viewer: actor, lock: dialect.forUpdate, sql)
            guard meeting.state.isOpen else { return try await Self.change(meeting, stateChanged: false, sql) }
            let role = try await sql.role(of: actor, in: meeting.room)
            let kind = RoomKind(rawValue: try await sql.first("SELECT kind FROM rooms WHERE id = ?", [.text(meeting.room)])!.text(0)) ?? .group
            guard RoomPolicy.canEndMeeting(role, isHost: actor == meeting.host, in: kind) else {
                throw ParleyError.forbidden("only the host or an admin of the group ends the meeting; leave it instead")
            }
            return try await Self.finish(meeting, as: .ended, reason: .ended, sql)
        }
    }

    public func expireRings(now: Timestamp) async throws -> [MeetingChange] {
        try await transaction { sql in
            let due = try await sql.query(
                "SELECT \(Self.meetingColumns) FROM meetings mt WHERE mt.state = 'ringing' AND mt.rings_until <= ? ORDER BY mt.rings_until LIMIT 100"
                    + dialect.forUpdateSkipLocked, [.int(now.milliseconds)])
            // Each ends in its room's timeline, which locks the room: in room order, as a batch of sends locks them.
            var changes: [MeetingChange] = []
            for meeting in try due.map({ try Self.meeting(from: $0) }).sorted(by: { $0.room < $1.room }) {
                changes.append(try await Self.finish(meeting, as: .missed, reason: .missed, sql))
            }
            return changes
        }
    }

    // MARK: Helpers inside a transaction

    /// A meeting the viewer may see (a member of its room), optionally locked.
    static func meeting(_ id: String, viewer: String, lock: String, _ sql: any SQLExecutor) async throws -> Meeting {
        guard let row = try await sql.first("SELECT \(meetingColumns) FROM meetings mt WHERE mt.id = ?" + lock, [.text(id)]) else {
            throw ParleyError.notFound("meeting")
        }
        let meeting = try meeting(from: row)
        // The recorder sees the meetings it records, and no other.
        let sees =
            viewer == User.recorderId
            ? try await sql.first("SELECT 1 FROM recordings WHERE meeting_id = ? AND state = 'recording'", [.text(meeting.id)]) != nil
            : try await sql.first("SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?", [.text(meeting.room), .text(viewer)]) != nil
        guard sees else { throw ParleyError.notFound("meeting") }
        return meeting
    }

    /// After attendees left: the meeting ends once nobody is left in it (a recorder is nobody), as cancelled if
    /// nobody had answered.
    static func closeIfEmpty(_ meeting: Meeting, left: [Attendee], _ sql: any SQLExecutor) async throws -> MeetingChange {
        let remaining = try await attendees(of: meeting.id, sql)
        guard remaining.allSatisfy(\.isRecorder), meeting.state.isOpen else { return try await change(meeting, stateChanged: false, left: left, sql) }
        var change = try await finish(meeting, as: .ended, reason: meeting.state == .ringing ? .cancelled : .empty, sql)
        change.left = left + change.left
        return change
    }

    /// A ringing meeting is answered: it becomes active, and its call's duration runs from now.
    static func answer(_ meeting: inout Meeting, _ sql: any SQLExecutor) async throws {
        meeting.state = .active
        try await sql.execute(
            "UPDATE meetings SET state = 'active', answered_at = ? WHERE id = ?", [.int(Timestamp.now.milliseconds), .text(meeting.id)])
    }

    /// Writes a call's entry into its room's timeline: a message of the host's with the room's next seq, which the
    /// host has read. Taking the seq locks the room, as a send does.
    static func appendCall(_ meeting: Meeting, _ entry: CallEntry, now: Timestamp, _ sql: any SQLExecutor) async throws -> OutboxEntry {
        guard
            let seq = try await sql.first("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", [.text(meeting.room)])?
                .int(0)
        else { throw ParleyError.notFound("room") }
        let message = Message(
            room: meeting.room, seq: seq, clientId: UUID().uuidString.lowercased(), sender: meeting.host, text: nil, sentAt: now, call: entry)
        try await sql.execute(
            """
            INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at, call_meeting, call_outcome, call_duration)
            VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)
            """,
            [
                .text(message.room), .int(seq), .text(message.clientId), .text(message.sender), .int(now.milliseconds), .text(entry.meeting),
                .text(entry.outcome.rawValue), SQLValue(entry.durationMs),
            ])
        try await sql.execute(
            "UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND user_id = ? AND last_read_seq < ?",
            [.int(seq), .text(message.room), .text(message.sender), .int(seq)])
        return try await sql.enqueue(.messageCreated(message), on: Channel.room(message.room), now: now)
    }

    /// How a meeting that ends now ends in its room's timeline: answered if anyone answered, else as it ended.
    static func callOutcome(of meeting: Meeting, reason: MeetingEndReason, now: Timestamp, _ sql: any SQLExecutor) async throws -> CallEntry {
        if let answeredAt = try await sql.first("SELECT answered_at FROM meetings WHERE id = ?", [.text(meeting.id)])?.optionalInt(0) {
            return CallEntry(meeting: meeting.id, outcome: .answered, durationMs: max(0, now.milliseconds - answeredAt))
        }
        let outcome: CallEntry.Outcome =
            switch reason {
            case .missed: .missed
            case .declined: .declined
            case .ended, .empty, .cancelled: .cancelled
            }
        return CallEntry(meeting: meeting.id, outcome: outcome)
    }

    /// Ends a meeting: its attendees are gone with it, its recording stops, and its end goes into the timeline.
    static func finish(_ meeting: Meeting, as state: MeetingState, reason: MeetingEndReason, _ sql: any SQLExecutor) async throws
        -> MeetingChange
    {
        var meeting = meeting
        let now = Timestamp.now
        meeting.state = state
        meeting.endedAt = now
        meeting.endReason = reason
        try await sql.execute(
            "UPDATE meetings SET state = ?, ended_at = ?, end_reason = ? WHERE id = ?",
            [.text(state.rawValue), .int(now.milliseconds), .text(reason.rawValue), .text(meeting.id)])
        let left = try await removeAttendees("meeting_id = ?", [.text(meeting.id)], sql)
        let stopped = try await stopRecording(of: meeting.id, reason: .ended, sql)
        let entry = try await callOutcome(of: meeting, reason: reason, now: now, sql)
        var change = try await change(meeting, stateChanged: true, left: left, sql)
        change.stoppedRecording = stopped
        change.timeline = try await appendCall(meeting, entry, now: now, sql)
        return change
    }

    static func change(_ meeting: Meeting, stateChanged: Bool, left: [Attendee] = [], _ sql: any SQLExecutor) async throws
        -> MeetingChange
    {
        MeetingChange(
            meeting: try await withAttendees(meeting, sql), members: try await memberIds(of: meeting.room, sql), stateChanged: stateChanged,
            left: left)
    }
}
