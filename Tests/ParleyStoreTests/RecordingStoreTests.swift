import ParleyCore
import Testing

@testable import ParleyStore

@Suite("Recordings, on every store")
struct RecordingStoreTests {
    typealias People = MeetingStoreTests.People

    /// Alice's call to Bob, both attending: the meeting's id.
    static func call(_ store: SQLStore, _ people: People) async throws -> String {
        let meeting = try await store.startMeeting(room: people.direct, host: people.alice.id, ringSeconds: 45).change.meeting
        _ = try await store.joinMeeting(meeting.id, attendee: MeetingStoreTests.attendee("n1.1", people.alice), capacity: 2)
        _ = try await store.joinMeeting(meeting.id, attendee: MeetingStoreTests.attendee("n1.2", people.bob), capacity: 2)
        return meeting.id
    }

    static let lease: Int64 = 8000

    /// A recording of the meeting, waiting for a worker: `worker` asks for a job and finds none (and so is free),
    /// then `user` starts it.
    static func pending(_ store: SQLStore, _ meeting: String, by user: User, worker: String) async throws -> RecordingJob {
        #expect(try await store.claimRecording(worker: worker, lease: lease, now: .now) == nil)
        return try #require(try await store.startRecording(meeting: meeting, by: user.id, workersIdleSince: .now.adding(seconds: -5)).job)
    }

    @Test("only an attendee starts a recording, only while a worker is free, and starting again finds it", arguments: Backend.allCases)
    func start(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await Self.call(store, people)
            let since = Timestamp.now.adding(seconds: -5)
            await expectError(.recorderUnavailable) { try await store.startRecording(meeting: meeting, by: people.alice.id, workersIdleSince: since) }
            #expect(try await store.claimRecording(worker: "w1", lease: Self.lease, now: .now) == nil)
            await expectError(.notFound) { try await store.startRecording(meeting: meeting, by: people.carol.id, workersIdleSince: since) }
            let started = try await store.startRecording(meeting: meeting, by: people.alice.id, workersIdleSince: since)
            #expect(started.created && started.job?.state == .pending && started.meeting.meeting.recording?.by == people.alice.id)
            let again = try await store.startRecording(meeting: meeting, by: people.bob.id, workersIdleSince: since)
            #expect(!again.created && again.job?.id == started.job?.id)
            #expect(try await store.meeting(meeting, viewer: people.bob.id).recording?.by == people.alice.id)
            #expect(try await store.openMeetings(of: people.bob.id).first?.recording?.by == people.alice.id)
            let stopped = try await store.stopRecording(meeting: meeting, by: people.bob.id)
            #expect(stopped.stopped && stopped.job?.state == .done && stopped.meeting.meeting.recording == nil)
            // A worker seen too long ago is no worker.
            await expectError(.recorderUnavailable) {
                try await store.startRecording(meeting: meeting, by: people.alice.id, workersIdleSince: .now.adding(seconds: 60))
            }
            // One free worker takes one waiting job: a second recording elsewhere waits for another worker.
            let other = try await store.startMeeting(room: people.group, host: people.carol.id, ringSeconds: 45).change.meeting.id
            _ = try await store.joinMeeting(other, attendee: MeetingStoreTests.attendee("n1.3", people.carol), capacity: 8)
            _ = try await store.startRecording(meeting: meeting, by: people.alice.id, workersIdleSince: since)
            await expectError(.recorderUnavailable) { try await store.startRecording(meeting: other, by: people.carol.id, workersIdleSince: since) }
            // Once a worker has taken the waiting job, the free one is free for it.
            #expect(try await store.claimRecording(worker: "w2", lease: Self.lease, now: .now)?.meeting == meeting)
            #expect(try await store.startRecording(meeting: other, by: people.carol.id, workersIdleSince: since).created)

            // The recorder is nobody's member.
            await expectError(.notFound) {
                try await store.addMember(room: people.group, user: User.recorderId, role: .member, actor: people.alice.id)
            }
            await expectError(.notFound) { try await store.createGroup(owner: people.alice.id, name: "Taped", members: [User.recorderId]) }
        }
    }

    @Test("a job goes to exactly one of many workers; a lapsed lease goes to another as the next part", arguments: Backend.allCases)
    func claims(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await Self.call(store, people)
            let job = try await Self.pending(store, meeting, by: people.alice, worker: "idle")

            let now = Timestamp.now
            let claims = try await withThrowingTaskGroup(of: RecordingJob?.self) { group in
                for n in 1...8 { group.addTask { try await store.claimRecording(worker: "w\(n)", lease: Self.lease, now: now) } }
                return try await group.reduce(into: [RecordingJob]()) { if let job = $1 { $0.append(job) } }
            }
            #expect(claims.count == 1 && claims[0].id == job.id && claims[0].part == 1 && claims[0].state == .recording)
            let first = claims[0]
            let holder = try #require(first.worker)
            #expect(try await store.renewRecording(job.id, worker: holder, part: 1, lease: Self.lease, now: now) != nil)
            #expect(try await store.renewRecording(job.id, worker: "someone", part: 1, lease: Self.lease, now: now) == nil)
            // Within the lease nobody else takes it; after it, the next worker records part 2, and the first holds it no more.
            #expect(try await store.claimRecording(worker: "late", lease: Self.lease, now: now.adding(seconds: 5)) == nil)
            let second = try #require(try await store.claimRecording(worker: "late", lease: Self.lease, now: now.adding(seconds: 9)))
            #expect(second.id == job.id && second.part == 2 && second.worker == "late")
            #expect(try await store.renewRecording(job.id, worker: holder, part: 1, lease: Self.lease, now: now.adding(seconds: 9)) == nil)
            #expect(try await store.finishRecording(job.id, worker: holder, part: 1, lost: false, now: now) == nil)

            // A worker that lets the job go unasked (it is stopping) hands it to the next one at once, as its next part.
            let released = try #require(try await store.finishRecording(job.id, worker: "late", part: 2, lost: false, now: now.adding(seconds: 10)))
            #expect(!released.stopped && released.job?.state == .recording)
            let third = try #require(try await store.claimRecording(worker: "next", lease: Self.lease, now: now.adding(seconds: 10)))
            #expect(third.id == job.id && third.part == 3)

            // Stopped: the worker hears it on renewal, posts, and finishes.
            let stopping = try await store.stopRecording(meeting: meeting, by: people.alice.id)
            #expect(stopping.stopped && stopping.job?.state == .stopping && stopping.job?.stopReason == .stopped)
            #expect(try await store.renewRecording(job.id, worker: "next", part: 3, lease: Self.lease, now: .now)?.state == .stopping)
            let finished = try #require(try await store.finishRecording(job.id, worker: "next", part: 3, lost: false, now: .now))
            #expect(finished.job?.state == .done && !finished.stopped)
            #expect(try await store.recording(job.id)?.state == .done)
        }
    }

    @Test("jobs nobody finishes end: unclaimed ones as recorder_unavailable, lost ones as recorder_lost", arguments: Backend.allCases)
    func expiry(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await Self.call(store, people)
            let pending = try await Self.pending(store, meeting, by: people.alice, worker: "w1")
            #expect(try await store.expireRecordings(now: .now, grace: 15_000).isEmpty)
            let unclaimed = try await store.expireRecordings(now: .now.adding(seconds: 16), grace: 15_000)
            #expect(unclaimed.map { $0.job?.stopReason } == [.recorderUnavailable] && unclaimed[0].stopped)
            #expect(try await store.recording(pending.id)?.state == .failed)

            let job = try await Self.pending(store, meeting, by: people.alice, worker: "w1")
            let claimed = try #require(try await store.claimRecording(worker: "w1", lease: Self.lease, now: .now))
            #expect(claimed.id == job.id)
            #expect(try await store.expireRecordings(now: .now.adding(seconds: 20), grace: 15_000).isEmpty)
            let lost = try await store.expireRecordings(now: .now.adding(seconds: 24), grace: 15_000)
            #expect(lost.map { $0.job?.stopReason } == [.recorderLost] && lost[0].meeting.meeting.recording == nil)
        }
    }

    @Test("the recorder attends only what it records, takes no place, never answers, and leaves no meeting alive", arguments: Backend.allCases)
    func recorderAttendee(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await People.make(store)
            let meeting = try await Self.call(store, people)
            let recorder = Attendee(conn: "n2.1", user: User.recorderId, media: MediaState(audio: false, video: false), joinedAt: .now)
            await expectError(.notFound) { try await store.joinMeeting(meeting, attendee: recorder, capacity: 2) }
            let job = try await Self.pending(store, meeting, by: people.bob, worker: "w1")
            _ = try await store.claimRecording(worker: "w1", lease: Self.lease, now: .now)
            // At capacity (2), the recorder still joins; its session lives while it records. One that joins again,
            // from another socket, replaces the one before.
            let joined = try await store.joinMeeting(meeting, attendee: recorder, capacity: 2)
            #expect(joined.meeting.attendees.filter(\.isRecorder).map(\.recorder) == [true])
            var again = recorder
            again.conn = "n3.1"
            let replaced = try await store.joinMeeting(meeting, attendee: again, capacity: 2)
            #expect(replaced.meeting.attendees.filter(\.isRecorder).map(\.conn) == ["n3.1"] && replaced.left.map(\.conn) == ["n2.1"])
            #expect(try await store.isLiveSession(job.id, user: User.recorderId))
            #expect(try await store.searchUsers("recorder", limit: 10).isEmpty)

            _ = try await store.leaveMeeting(meeting, conn: "n1.1")
            let last = try #require(try await store.leaveMeeting(meeting, conn: "n1.2"))
            #expect(last.meeting.state == .ended && last.stateChanged && last.left.contains { $0.isRecorder })
            #expect(last.stoppedRecording?.id == job.id && last.stoppedRecording?.stopReason == .ended && last.meeting.recording == nil)
            #expect(try await store.recording(job.id)?.state == .stopping)
        }
    }
}
