import Crypto
import Foundation
import Logging
import ParleyBus
import ParleyCore
import ParleyStore

/// Recordings of meetings, as attendees start and stop them and recorder workers record them. Each change is
/// committed first, then announced: `recording.started` and `recording.stopped` to the meeting's attendees, the
/// active meeting's object (which says whether a recording runs) to every member, and `recording.ready` to whoever
/// started it once its file is posted.
struct Recordings: Sendable {
    /// How long a worker's claim on a job lasts unless it renews it.
    static let lease: Duration = .seconds(8)
    /// How often a worker renews its lease: a few times per lease, so that one late renewal loses nothing.
    static let renewEvery: Duration = .seconds(2)
    /// A worker that asked for a job this recently is free to take one.
    static let idleWithin: Duration = .seconds(5)
    /// A job nobody claimed, or whose lease lapsed, this long ago has no worker to finish it: it ends.
    static let abandonedAfter: Duration = .seconds(15)

    let meetings: Meetings
    let tokens: Tokens
    let sessions: Sessions
    let ice: ICEServers
    /// The most bytes one recorded part may hold (`PARLEY_RECORDING_MAX_BYTES`).
    let maxBytes: Int64
    let attachments: FileAttachments
    let events: EventPublisher
    let logger: Logger
    var store: any Store { meetings.store }

    func start(_ meeting: String, by user: String) async throws -> RecordingChange {
        let change = try await store.startRecording(
            meeting: meeting, by: user, workersIdleSince: .now.adding(milliseconds: -Self.idleWithin.milliseconds))
        if change.created { await announce(change) }
        return change
    }

    func stop(_ meeting: String, by user: String) async throws -> RecordingChange {
        let change = try await store.stopRecording(meeting: meeting, by: user)
        await announce(change)
        return change
    }

    /// Tells the attendees that a recording started or stopped, and every member what the meeting is now. A job that
    /// ended takes its recorder's token with it.
    func announce(_ change: RecordingChange) async {
        guard let job = change.job else { return }
        if job.state == .done || job.state == .failed { await sessions.announceRevoked([job.id]) }
        guard change.created || change.stopped else { return }
        let meeting = change.meeting.meeting
        if change.created {
            await meetings.publish(
                .recordingStarted(RecordingNotice(room: meeting.room, meeting: meeting.id, by: job.startedBy)), to: Channel.room(meeting.room))
        } else {
            await meetings.publish(
                .recordingStopped(RecordingNotice(room: meeting.room, meeting: meeting.id, reason: job.stopReason ?? .stopped)),
                to: Channel.room(meeting.room))
        }
        // A ring is not sent again: it would ring anew where it was declined.
        guard meeting.state == .active else { return }
        for member in change.meeting.members {
            await meetings.publish(.meeting(meeting), to: Channel.user(member))
        }
    }

    // MARK: Workers

    /// A job for a worker, with the token its socket attends the meeting with; nil when there is none.
    func claim(worker: String) async throws -> RecorderController.Claimed? {
        guard let job = try await store.claimRecording(worker: worker, lease: Self.lease.milliseconds, now: .now) else { return nil }
        logger.notice("a recorder took a recording", metadata: ["recording": "\(job.id)", "worker": "\(worker)", "part": "\(job.part)"])
        return RecorderController.Claimed(
            job: job, token: try await token(for: job), leaseMs: Self.lease.milliseconds, renewMs: Self.renewEvery.milliseconds,
            iceServers: ice.answer(for: User.recorderId))
    }

    /// The recorder's access token for a job: its session is the job, live while a worker records it.
    func token(for job: RecordingJob) async throws -> String {
        try await tokens.accessToken(for: User.recorderId, session: job.id)
    }

    /// Posts a part of a recording in its room, sent by the recorder with its file, and tells whoever started it.
    /// Posting the same part again changes nothing.
    func post(_ job: RecordingJob, part: Int, file: String, duration: Duration) async throws -> Sent {
        let text = Self.text(meetingStartedAt: try await store.meetingStart(job.meeting), part: part, duration: duration)
        let sent = try await attachments.send(
            room: job.room, sender: User.recorderId, clientId: Self.clientId(job, part: part), text: text, files: [file])
        events.publish(sent.outbox)
        if sent.created, let ref = sent.message.files?.first {
            await meetings.publish(.recordingReady(RecordingNotice(room: job.room, meeting: job.meeting, file: ref)), to: Channel.user(job.startedBy))
        }
        return sent
    }

    /// The message's clientId: a UUID made from the recording and the part, so that posting a part again finds
    /// its message.
    static func clientId(_ job: RecordingJob, part: Int) -> String {
        var bytes = Array(SHA256.hash(data: Data("\(job.id).\(part)".utf8)).prefix(16))
        bytes[6] = bytes[6] & 0x0f | 0x50
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let cut = [8, 4, 4, 4, 12].reduce(into: (parts: [String](), rest: Substring(hex))) { state, length in
            state.parts.append(String(state.rest.prefix(length)))
            state.rest = state.rest.dropFirst(length)
        }
        return cut.parts.joined(separator: "-")
    }

    /// "Recording of the call of 7 Dec 2026, 13:40 UTC · 2:05", with the part when there are several.
    static func text(meetingStartedAt: Timestamp, part: Int, duration: Duration) -> String {
        let date = meetingStartedAt.date.formatted(
            Date.FormatStyle(date: .abbreviated, time: .shortened, locale: Locale(identifier: "en_GB"), timeZone: TimeZone(identifier: "UTC")!))
        let seconds = Int(duration.components.seconds)
        let length =
            seconds >= 3600
            ? String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
            : String(format: "%d:%02d", seconds / 60, seconds % 60)
        return "Recording of the call of \(date) UTC\(part > 1 ? ", part \(part)" : "") · \(length)"
    }

    /// Ends the jobs no worker will finish, and tells their attendees.
    func expire() async throws {
        for change in try await store.expireRecordings(now: .now, grace: Self.abandonedAfter.milliseconds) {
            logger.warning("a recording ended with no recorder to finish it", metadata: ["recording": "\(change.job?.id ?? "")"])
            await announce(change)
        }
    }
}
