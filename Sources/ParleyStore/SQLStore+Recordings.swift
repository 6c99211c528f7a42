import ParleyCore

/// Recordings of meetings: jobs that attendees start and stop, and that recorder workers claim under a lease.
extension SQLStore {
    static let recordingColumns =
        "r.id, r.meeting_id, r.room_id, r.started_by, r.state, r.part, r.worker, r.lease_until, r.requested_at, r.stop_reason"

    static func recording(from row: SQLRow) throws -> RecordingJob {
        RecordingJob(
            id: try row.text(0), meeting: try row.text(1), room: try row.text(2), startedBy: try row.text(3),
            state: RecordingState(rawValue: try row.text(4)) ?? .failed, part: Int(try row.int(5)), worker: try row.optionalText(6),
            leaseUntil: try row.optionalInt(7).map(Timestamp.init(milliseconds:)), requestedAt: Timestamp(milliseconds: try row.int(8)),
            stopReason: try row.optionalText(9).flatMap(RecordingStopReason.init(rawValue:)))
    }

    public func startRecording(meeting id: String, by user: String, workersIdleSince: Timestamp) async throws -> RecordingChange {
        try await transaction { sql in
            let meeting = try await Self.meeting(id, viewer: user, lock: dialect.forUpdate, sql)
            guard meeting.state.isOpen else { throw ParleyError(.meetingEnded, "the meeting has ended") }
            try await Self.requireAttendee(user, of: id, sql)
            if let row = try await sql.first(
                "SELECT \(Self.recordingColumns) FROM recordings r WHERE r.meeting_id = ? AND r.state IN ('pending', 'recording')", [.text(id)])
            {
                return RecordingChange(
                    job: try Self.recording(from: row), meeting: try await Self.change(meeting, stateChanged: false, sql), created: false,
                    stopped: false)
            }
            guard try await sql.first("SELECT recording_allowed FROM rooms WHERE id = ?", [.text(meeting.room)])?.int(0) != 0 else {
                throw ParleyError(.recordingForbidden, "the group's owner or an admin forbade recording its meetings")
            }
            // A worker free for this job: one that asked lately, beyond those the jobs still waiting will take.
            let free = try await sql.first(
                "SELECT (SELECT COUNT(*) FROM recorders WHERE idle_at >= ?) - (SELECT COUNT(*) FROM recordings WHERE state = 'pending')",
                [.int(workersIdleSince.milliseconds)])
            guard try free?.int(0) ?? 0 > 0 else {
                throw ParleyError(.recorderUnavailable, "no recorder is free to record: none runs, or all are busy")
            }
            let job = RecordingJob(id: Identifier.make("rec"), meeting: id, room: meeting.room, startedBy: user, state: .pending, requestedAt: .now)
            try await sql.execute(
                "INSERT INTO recordings (id, meeting_id, room_id, started_by, state, requested_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                [.text(job.id), .text(id), .text(meeting.room), .text(user), .int(job.requestedAt.milliseconds)])
            return RecordingChange(job: job, meeting: try await Self.change(meeting, stateChanged: false, sql), created: true, stopped: false)
        }
    }

    public func stopRecording(meeting id: String, by user: String) async throws -> RecordingChange {
        try await transaction { sql in
            let meeting = try await Self.meeting(id, viewer: user, lock: dialect.forUpdate, sql)
            guard meeting.state.isOpen else { throw ParleyError(.meetingEnded, "the meeting has ended") }
            try await Self.requireAttendee(user, of: id, sql)
            let stopped = try await Self.stopRecording(of: id, reason: .stopped, sql)
            return RecordingChange(
                job: stopped, meeting: try await Self.change(meeting, stateChanged: false, sql), created: false, stopped: stopped != nil)
        }
    }

    public func claimRecording(worker: String, lease: Int64, now: Timestamp) async throws -> RecordingJob? {
        try await transaction { sql in
            let row = try await sql.first(
                """
                SELECT \(Self.recordingColumns) FROM recordings r
                WHERE r.state = 'pending' OR (r.state = 'recording' AND r.lease_until <= ?)
                ORDER BY r.requested_at LIMIT 1
                """ + dialect.forUpdateSkipLocked, [.int(now.milliseconds)])
            guard let row else {
                try await sql.execute(
                    "INSERT INTO recorders (id, idle_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET idle_at = excluded.idle_at",
                    [.text(worker), .int(now.milliseconds)])
                return nil
            }
            var job = try Self.recording(from: row)
            job.state = .recording
            job.part += 1
            job.worker = worker
            job.leaseUntil = now.adding(milliseconds: lease)
            try await sql.execute(
                "UPDATE recordings SET state = 'recording', part = ?, worker = ?, lease_until = ? WHERE id = ?",
                [.int(Int64(job.part)), .text(worker), .int(job.leaseUntil!.milliseconds), .text(job.id)])
            // A worker recording is not free for another job.
            try await sql.execute("DELETE FROM recorders WHERE id = ?", [.text(worker)])
            return job
        }
    }

    public func renewRecording(_ id: String, worker: String, part: Int, lease: Int64, now: Timestamp) async throws -> RecordingJob? {
        try await transaction { sql in
            guard var job = try await Self.held(id, worker: worker, part: part, lock: dialect.forUpdate, sql) else { return nil }
            job.leaseUntil = now.adding(milliseconds: lease)
            try await sql.execute("UPDATE recordings SET lease_until = ? WHERE id = ?", [.int(job.leaseUntil!.milliseconds), .text(id)])
            return job
        }
    }

    public func finishRecording(_ id: String, worker: String, part: Int, lost: Bool, now: Timestamp) async throws -> RecordingChange? {
        try await transaction { sql in
            guard var job = try await Self.held(id, worker: worker, part: part, lock: dialect.forUpdate, sql) else { return nil }
            switch (job.state, lost) {
            case (.recording, false):
                // Let go, not asked to stop: the lease lapses now, and the next worker free records the next part.
                job.leaseUntil = now
                try await sql.execute("UPDATE recordings SET lease_until = ? WHERE id = ?", [.int(now.milliseconds), .text(id)])
                return RecordingChange(job: job, meeting: try await Self.change(of: job, sql), created: false, stopped: false)
            case (.recording, true):
                try await Self.end(&job, .failed, reason: .recorderLost, at: now, sql)
                return RecordingChange(job: job, meeting: try await Self.change(of: job, sql), created: false, stopped: true)
            default:
                try await Self.end(&job, .done, reason: job.stopReason, at: now, sql)
                return RecordingChange(job: job, meeting: try await Self.change(of: job, sql), created: false, stopped: false)
            }
        }
    }

    public func recording(_ id: String) async throws -> RecordingJob? {
        try await read { sql in
            try await sql.first("SELECT \(Self.recordingColumns) FROM recordings r WHERE r.id = ?", [.text(id)]).map { try Self.recording(from: $0) }
        }
    }

    public func meetingStart(_ id: String) async throws -> Timestamp {
        try await read { sql in try Self.meeting(from: try await Self.meetingRow(id, sql)).startedAt }
    }

    public func expireRecordings(now: Timestamp, grace: Int64) async throws -> [RecordingChange] {
        try await transaction { sql in
            let due = try await sql.query(
                """
                SELECT \(Self.recordingColumns) FROM recordings r
                WHERE (r.state = 'pending' AND r.requested_at < ?) OR (r.state IN ('recording', 'stopping') AND r.lease_until < ?)
                ORDER BY r.requested_at LIMIT 100
                """ + dialect.forUpdateSkipLocked, [.int(now.milliseconds - grace), .int(now.milliseconds - grace)])
            var changes: [RecordingChange] = []
            for row in due {
                var job = try Self.recording(from: row)
                guard job.state != .stopping else {
                    // A worker lost while finishing leaves its part to be posted from its spool; the recording was over.
                    try await Self.end(&job, .done, reason: job.stopReason, at: now, sql)
                    continue
                }
                try await Self.end(&job, .failed, reason: job.part == 0 ? .recorderUnavailable : .recorderLost, at: now, sql)
                changes.append(RecordingChange(job: job, meeting: try await Self.change(of: job, sql), created: false, stopped: true))
            }
            // Workers gone for an hour are forgotten.
            try await sql.execute("DELETE FROM recorders WHERE idle_at < ?", [.int(now.milliseconds - 3_600_000)])
            return changes
        }
    }

    public func setRecordingAllowed(room: String, allowed: Bool, actor: String) async throws {
        try await transaction { sql in
            let role = try await Self.groupRole(of: actor, in: room, sql)
            guard RoomPolicy.canSetRecording(role) else {
                throw ParleyError.forbidden("only owners and admins decide whether a group's meetings are recorded")
            }
            try await sql.execute("UPDATE rooms SET recording_allowed = ? WHERE id = ?", [.int(allowed ? 1 : 0), .text(room)])
        }
    }

    // MARK: Helpers inside a transaction

    /// Stops the meeting's running recording: a pending one is done at once, one a worker records is stopping
    /// until the worker has posted it. Nil when none runs.
    static func stopRecording(of meeting: String, reason: RecordingStopReason, _ sql: any SQLExecutor) async throws -> RecordingJob? {
        // One statement, so that a worker's claim of the same job lands wholly before it or after it.
        let columns = recordingColumns.replacingOccurrences(of: "r.", with: "")
        return try await sql.query(
            """
            UPDATE recordings SET state = CASE state WHEN 'pending' THEN 'done' ELSE 'stopping' END, stop_reason = ?, stopped_at = ?
            WHERE meeting_id = ? AND state IN ('pending', 'recording') RETURNING \(columns)
            """, [.text(reason.rawValue), .int(Timestamp.now.milliseconds), .text(meeting)]
        ).first.map { try recording(from: $0) }
    }

    /// A job that `worker` holds for this part, recording or finishing it.
    static func held(_ id: String, worker: String, part: Int, lock: String, _ sql: any SQLExecutor) async throws -> RecordingJob? {
        try await sql.first(
            "SELECT \(recordingColumns) FROM recordings r WHERE r.id = ? AND r.worker = ? AND r.part = ? AND r.state IN ('recording', 'stopping')"
                + lock,
            [.text(id), .text(worker), .int(Int64(part))]
        ).map { try recording(from: $0) }
    }

    /// Moves a job to `state` for `reason`, noting when it stopped unless it had already.
    static func end(_ job: inout RecordingJob, _ state: RecordingState, reason: RecordingStopReason?, at now: Timestamp, _ sql: any SQLExecutor)
        async throws
    {
        job.state = state
        job.stopReason = reason
        try await sql.execute(
            "UPDATE recordings SET state = ?, stop_reason = ?, stopped_at = COALESCE(stopped_at, ?) WHERE id = ?",
            [.text(state.rawValue), reason.map { .text($0.rawValue) } ?? .null, .int(now.milliseconds), .text(job.id)])
    }

    /// The change a job's meeting went through: none but its recording's.
    static func change(of job: RecordingJob, _ sql: any SQLExecutor) async throws -> MeetingChange {
        try await change(try meeting(from: try await meetingRow(job.meeting, sql)), stateChanged: false, sql)
    }

    /// The meeting's running recording, for its meeting object.
    static func runningRecording(of meeting: String, _ sql: any SQLExecutor) async throws -> MeetingRecording? {
        try await sql.first(
            "SELECT started_by, requested_at FROM recordings WHERE meeting_id = ? AND state IN ('pending', 'recording')", [.text(meeting)]
        )
        .map { MeetingRecording(by: try $0.text(0), startedAt: Timestamp(milliseconds: try $0.int(1))) }
    }

    static func requireAttendee(_ user: String, of meeting: String, _ sql: any SQLExecutor) async throws {
        guard try await sql.first("SELECT 1 FROM attendees WHERE meeting_id = ? AND user_id = ?", [.text(meeting), .text(user)]) != nil else {
            throw ParleyError.forbidden("only attendees of the meeting start or stop its recording: join it first")
        }
    }

    static func meetingRow(_ id: String, _ sql: any SQLExecutor) async throws -> SQLRow {
        guard let row = try await sql.first("SELECT \(meetingColumns) FROM meetings mt WHERE mt.id = ?", [.text(id)]) else {
            throw ParleyError.notFound("meeting")
        }
        return row
    }
}
