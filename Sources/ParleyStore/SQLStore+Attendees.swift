import ParleyCore

/// A meeting's attendees: connections that join, leave, change their media, and go with their node.
extension SQLStore {
    public func joinMeeting(_ id: String, attendee: Attendee, capacity: Int) async throws -> MeetingChange {
        try await transaction { sql in
            var meeting = try await Self.meeting(id, viewer: attendee.user, lock: dialect.forUpdate, sql)
            guard meeting.state.isOpen else { throw ParleyError(.meetingEnded, "the meeting has ended") }
            let present = try await Self.attendees(of: id, sql)
            if present.contains(where: { $0.conn == attendee.conn }) { return try await Self.change(meeting, stateChanged: false, sql) }
            // The recorder takes no attendee's place, and there is one: a recorder that joins replaces the one before.
            guard attendee.isRecorder || present.count(where: { !$0.isRecorder }) < capacity else {
                throw ParleyError(.meetingFull, "the meeting is full: it holds at most \(capacity) attendees")
            }
            let replaced =
                attendee.isRecorder
                ? try await Self.removeAttendees("meeting_id = ? AND user_id = ?", [.text(id), .text(User.recorderId)], sql) : []
            try await sql.execute(
                """
                INSERT INTO attendees (meeting_id, conn_id, user_id, node_id, audio, video, screen, joined_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(id), .text(attendee.conn), .text(attendee.user), .text(attendee.node)] + Self.binds(attendee.media)
                    + [.int(attendee.joinedAt.milliseconds)])
            // Anyone but the caller (or the recorder) joining answers the call.
            let answers = meeting.state == .ringing && attendee.user != meeting.host && !attendee.isRecorder
            if answers { try await Self.answer(&meeting, sql) }
            return try await Self.change(meeting, stateChanged: answers, left: replaced, sql)
        }
    }

    public func leaveMeeting(_ id: String, conn: String) async throws -> MeetingChange? {
        try await transaction { sql in
            guard let row = try await sql.first("SELECT \(Self.meetingColumns) FROM meetings mt WHERE mt.id = ?" + dialect.forUpdate, [.text(id)])
            else { return nil }
            let left = try await Self.removeAttendees("meeting_id = ? AND conn_id = ?", [.text(id), .text(conn)], sql)
            guard !left.isEmpty else { return nil }
            return try await Self.closeIfEmpty(try Self.meeting(from: row), left: left, sql)
        }
    }

    public func updateMedia(_ id: String, conn: String, media: MediaState) async throws -> Attendee {
        try await transaction { sql in
            try await sql.execute(
                "UPDATE attendees SET audio = ?, video = ?, screen = ? WHERE meeting_id = ? AND conn_id = ?",
                Self.binds(media) + [.text(id), .text(conn)])
            guard let attendee = try await Self.attendees(of: id, sql).first(where: { $0.conn == conn }) else {
                throw ParleyError.notFound("meeting attendance")
            }
            return attendee
        }
    }

    /// Read together with the other checks made meanwhile.
    public func attendee(_ id: String, conn: String) async throws -> Attendee? {
        try await attendeeReads.submit(Attendance(meeting: id, conn: conn)) { [self] batch in
            let rows = try await read { sql in
                try await sql.query(
                    "SELECT a.conn_id, a.user_id, a.audio, a.video, a.screen, a.joined_at, a.meeting_id FROM attendees a"
                        + " JOIN (VALUES \(Self.values(batch.count, 2))) AS v ON a.meeting_id = v.column1 AND a.conn_id = v.column2",
                    batch.flatMap { [.text($0.meeting), .text($0.conn)] })
            }
            var found: [Attendance: Attendee] = [:]
            for row in rows {
                let attendee = try Self.attendee(from: row)
                found[Attendance(meeting: try row.text(6), conn: attendee.conn)] = attendee
            }
            return batch.map { found[$0] }
        }
    }

    public func attendeeNodes() async throws -> [String] {
        try await read { sql in try await sql.query("SELECT DISTINCT node_id FROM attendees ORDER BY node_id", []).map { try $0.text(0) } }
    }

    public func removeAttendees(node: String) async throws -> [MeetingChange] {
        let meetings = try await read { sql in
            try await sql.query("SELECT DISTINCT meeting_id FROM attendees WHERE node_id = ?", [.text(node)]).map { try $0.text(0) }
        }
        var changes: [MeetingChange] = []
        // One meeting per transaction, so that a node's clean-up never holds many meetings locked at once.
        for id in meetings {
            let change = try await transaction { sql -> MeetingChange? in
                guard
                    let row = try await sql.first("SELECT \(Self.meetingColumns) FROM meetings mt WHERE mt.id = ?" + dialect.forUpdate, [.text(id)])
                else { return nil }
                let left = try await Self.removeAttendees("meeting_id = ? AND node_id = ?", [.text(id), .text(node)], sql)
                guard !left.isEmpty else { return nil }
                return try await Self.closeIfEmpty(try Self.meeting(from: row), left: left, sql)
            }
            if let change { changes.append(change) }
        }
        return changes
    }

    static func attendees(of meeting: String, _ sql: any SQLExecutor) async throws -> [Attendee] {
        try await sql.query(
            "SELECT conn_id, user_id, audio, video, screen, joined_at FROM attendees WHERE meeting_id = ? ORDER BY joined_at, conn_id",
            [.text(meeting)]
        ).map(attendee(from:))
    }

    /// The meeting with its attendees, and its recording when one runs.
    static func withAttendees(_ meeting: Meeting, _ sql: any SQLExecutor) async throws -> Meeting {
        var meeting = meeting
        meeting.attendees = try await attendees(of: meeting.id, sql)
        meeting.recording = try await runningRecording(of: meeting.id, sql)
        return meeting
    }

    /// The first six columns: conn_id, user_id, audio, video, screen, joined_at.
    static func attendee(from row: SQLRow) throws -> Attendee {
        Attendee(
            conn: try row.text(0), user: try row.text(1),
            media: MediaState(audio: try row.int(2) != 0, video: try row.int(3) != 0, screen: try row.int(4) != 0),
            joinedAt: Timestamp(milliseconds: try row.int(5)))
    }

    static func binds(_ media: MediaState) -> [SQLValue] {
        [.int(media.audio ? 1 : 0), .int(media.video ? 1 : 0), .int(media.screen ? 1 : 0)]
    }

    static func removeAttendees(_ condition: String, _ binds: [SQLValue], _ sql: any SQLExecutor) async throws -> [Attendee] {
        try await sql.query("DELETE FROM attendees WHERE \(condition) RETURNING conn_id, user_id, audio, video, screen, joined_at", binds)
            .map(attendee(from:))
    }
}

/// A connection's attendance of a meeting.
struct Attendance: Hashable {
    let meeting: String
    let conn: String
}
