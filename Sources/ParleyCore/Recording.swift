/// Where a recording is in its life (see migrations/0009_recordings.sql).
public enum RecordingState: String, Codable, Sendable {
    /// Asked for; no worker has it yet.
    case pending
    /// A worker holds its lease and records.
    case recording
    /// Asked to stop: its worker finishes the file and posts it.
    case stopping
    case done
    /// No worker took it, or its worker was lost and none took it over.
    case failed

    /// Pending or recording: the meeting's recording, which starting again finds.
    public var isRunning: Bool { self == .pending || self == .recording }
}

/// Why a recording stopped, as `recording.stopped {reason}` says it.
public enum RecordingStopReason: String, Codable, Sendable {
    /// An attendee stopped it.
    case stopped
    /// The meeting ended.
    case ended
    /// Its worker was lost, and no other took it over.
    case recorderLost = "recorder_lost"
    /// No worker took it.
    case recorderUnavailable = "recorder_unavailable"
}

/// A recording job: what the store keeps, and what a worker is handed when it claims one.
public struct RecordingJob: Codable, Hashable, Sendable {
    public var id: String
    public var meeting: String
    public var room: String
    public var startedBy: String
    public var state: RecordingState
    /// The part a worker records: 1 for the first worker, one more for each that takes the job over.
    public var part: Int
    public var worker: String?
    public var leaseUntil: Timestamp?
    public var requestedAt: Timestamp
    public var stopReason: RecordingStopReason?

    public init(
        id: String, meeting: String, room: String, startedBy: String, state: RecordingState, part: Int = 0, worker: String? = nil,
        leaseUntil: Timestamp? = nil, requestedAt: Timestamp, stopReason: RecordingStopReason? = nil
    ) {
        self.id = id
        self.meeting = meeting
        self.room = room
        self.startedBy = startedBy
        self.state = state
        self.part = part
        self.worker = worker
        self.leaseUntil = leaseUntil
        self.requestedAt = requestedAt
        self.stopReason = stopReason
    }
}

/// `recording.started {meeting, room, by}`, `recording.stopped {meeting, room, reason}` and
/// `recording.ready {meeting, room, file}`.
public struct RecordingNotice: Codable, Hashable, Sendable {
    public var room: String
    public var meeting: String
    /// Who started it, in `recording.started`.
    public var by: String?
    /// Why it stopped, in `recording.stopped`.
    public var reason: RecordingStopReason?
    /// The posted file, in `recording.ready`.
    public var file: FileRef?

    public init(room: String, meeting: String, by: String? = nil, reason: RecordingStopReason? = nil, file: FileRef? = nil) {
        self.room = room
        self.meeting = meeting
        self.by = by
        self.reason = reason
        self.file = file
    }
}

/// What a change to a recording did, for the caller to announce after its commit.
public struct RecordingChange: Sendable, Hashable {
    /// The recording after the change; nil when a stop found none running.
    public var job: RecordingJob?
    /// Its meeting after the change, and the room's members.
    public var meeting: MeetingChange
    /// A new recording was started.
    public var created: Bool
    /// A running recording stopped: `recording.stopped` is due.
    public var stopped: Bool

    public init(job: RecordingJob?, meeting: MeetingChange, created: Bool, stopped: Bool) {
        self.job = job
        self.meeting = meeting
        self.created = created
        self.stopped = stopped
    }
}
