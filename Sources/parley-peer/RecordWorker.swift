import ArgumentParser
import Foundation
import Glibc
import ParleyClient
import ParleyCommandLine
import ParleyCore
import Synchronization

/// `parley-peer record-worker`: a service that records Parley's meetings. It asks the nodes (`PARLEY_SERVER`, with
/// `PARLEY_RECORDER_SECRET`) for a job, joins the job's meeting as a receive-only attendee, composes every attendee
/// into one grid with mixed audio in streamable WebM, and, when the recording stops, uploads the file and posts it
/// in the room. It renews its lease on the job while it records: should it die, another worker takes the job over as
/// the next part once the lease lapses, and posts the part this one left in the spool.
struct RecordWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record-worker", abstract: "Record meetings: claim recording jobs from Parley's nodes, record, and post the files.")

    @Option(help: "The server (or load balancer) to claim jobs from; default: $PARLEY_SERVER.") var server: String?
    @Option(help: "The folder parts are recorded into until they are posted; default: $PARLEY_RECORDER_SPOOL, or ./parley-recordings.")
    var spool: String?
    @Option(help: "This worker's name, unique among the workers; default: HOSTNAME-PID.") var name: String?
    @Option(name: .customLong("ice-address"), help: "A host address for the ICE agent to use (repeatable); default: every interface's.")
    var iceAddresses: [String] = []
    @Flag(help: "Print one JSON object per line.") var json = false

    /// How long an idle worker waits between two asks for a job.
    static let poll: Duration = .seconds(1)

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let server = server ?? environment["PARLEY_SERVER"] else { throw ValidationError("give --server or set PARLEY_SERVER") }
        guard let secret = environment["PARLEY_RECORDER_SECRET"], !secret.isEmpty else {
            throw ValidationError("set PARLEY_RECORDER_SECRET to the secret the nodes are given")
        }
        let worker = try Self.workerName(name)
        let spool = URL(fileURLWithPath: spool ?? environment["PARLEY_RECORDER_SPOOL"] ?? "parley-recordings")
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
        let recorder = WorkerLoop(
            client: RecorderClient(server: server, secret: secret, worker: worker), server: server, spool: Spool(folder: spool),
            output: Output(json: json), iceAddresses: iceAddresses)
        try await recorder.run()
    }

    static func workerName(_ name: String?) throws -> String {
        if let name { return name }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let cleaned = String(cString: host).map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "-" }
        return String(String(cleaned).prefix(48)) + "-\(getpid())"
    }
}

/// The worker's life: post what the spool holds, ask for a job, record it, and again, until SIGTERM or SIGINT.
/// A signal during a recording finishes and posts it first, and lets the job go to the next worker free.
///
/// Unchecked: its loop runs on one task; the signal handlers touch only `stopping` and `current`, an atomic and a
/// mutex.
final class WorkerLoop: @unchecked Sendable {
    let client: RecorderClient
    let server: String
    let spool: Spool
    let output: Output
    let iceAddresses: [String]
    private let stopping = Atomic(false)
    /// Stops the recording under way, if one is.
    private let current = Mutex<(@Sendable () -> Void)?>(nil)
    /// When each spooled part that could not be posted is to be tried again, and how many tries it has had.
    private var retries: [String: (at: ContinuousClock.Instant, tries: Int)] = [:]

    /// A part shorter than this holds nothing worth posting: the job stopped as it began.
    static let shortest: Duration = .seconds(1)

    init(client: RecorderClient, server: String, spool: Spool, output: Output, iceAddresses: [String]) {
        (self.client, self.server, self.spool, self.output, self.iceAddresses) = (client, server, spool, output, iceAddresses)
    }

    func run() async throws {
        let signals = [SIGINT, SIGTERM].map { number in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                stopping.store(true, ordering: .relaxed)
                current.withLock { $0?() }
            }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        say("ready", ["worker": client.worker, "server": server, "spool": spool.folder.path])
        while !stopping.load(ordering: .relaxed) {
            await postSpooled()
            let claimed: ClaimedRecording?
            do {
                claimed = try await client.claim()
            } catch {
                Output.error("cannot ask \(server) for a job: \(error)")
                claimed = nil
            }
            guard let claimed else {
                try? await Task.sleep(for: RecordWorker.poll)
                continue
            }
            await record(claimed)
        }
        say("stopped", ["worker": client.worker])
    }

    /// Records one part of a job, tells the nodes this worker is done with it (a job not asked to stop goes to the
    /// next worker free at once), and posts the part.
    private func record(_ claimed: ClaimedRecording) async {
        let job = claimed.job
        say("recording", ["recording": job.id, "meeting": job.meeting, "part": "\(job.part)"])
        let part: SpooledPart
        do {
            part = try spool.begin(job)
        } catch {
            Output.error("cannot write to the spool \(spool.folder.path): \(error)")
            try? await client.finish(job, lost: true)
            return
        }
        let identity = RecorderIdentity(server: server, claimed: claimed, client: client, part: part)
        let attendance = Attendance(
            .record(meeting: job.meeting), identity, video: .none, audio: .none, output: output,
            settings: PeerSettings(iceAddresses: iceAddresses, record: nil, compose: part.media, duration: nil, stats: false))
        identity.onStop(attendance.stopper)
        current.withLock { $0 = attendance.stopper }
        // A signal that came while the job was being set up.
        if stopping.load(ordering: .relaxed) { attendance.stopper() }
        var lost = false
        do {
            try await attendance.run()
        } catch {
            Output.error("the recording of \(job.meeting) failed: \(error)")
            lost = true
        }
        current.withLock { $0 = nil }
        let duration = attendance.composed ?? part.elapsed
        do {
            try await client.finish(job, lost: lost || identity.lost)
        } catch {
            // Taken over by another worker, or the nodes are out of reach: the lease lapses either way.
            Output.error("cannot finish \(job.id): \(error)")
        }
        say("recorded", ["recording": job.id, "part": "\(job.part)", "seconds": String(format: "%.1f", Double(duration.milliseconds) / 1000)])
        await post(part, duration: duration)
    }

    /// Uploads a part and posts it in its room, once. Posted, or refused for good (kept in the spool's `failed/` for
    /// whoever runs the worker), it leaves the spool; otherwise it stays there to be tried again later, less and
    /// less often. Either way its lock goes.
    private func post(_ part: SpooledPart, duration: Duration) async {
        defer { part.close() }
        let key = part.media.lastPathComponent
        guard part.size > 0, duration >= Self.shortest else {
            spool.remove(part)
            return
        }
        do {
            let message = try await client.post(recording: part.recording, part: part.part, path: part.media.path, duration: duration)
            say("posted", ["recording": part.recording, "part": "\(part.part)", "room": message.room, "seq": "\(message.seq)"])
            spool.remove(part)
            retries[key] = nil
        } catch let error as ParleyClientError where ![408, 429].contains(error.status) && (400..<500).contains(error.status) {
            Output.error("part \(part.part) of \(part.recording) was refused (\(error)): it is kept in \(spool.failed.path)")
            spool.fail(part)
            retries[key] = nil
        } catch {
            let tries = (retries[key]?.tries ?? 0) + 1
            Output.error("cannot post part \(part.part) of \(part.recording) (try \(tries)): \(error)")
            retries[key] = (.now + .seconds(min(300, 1 << min(tries, 9))), tries)
        }
    }

    /// Posts the parts that workers left in the spool (killed mid-recording, or unable to post them at the time)
    /// whose turn has come.
    private func postSpooled() async {
        for part in spool.orphans() {
            if let retry = retries[part.media.lastPathComponent], retry.at > .now {
                part.close()
                continue
            }
            say("found", ["recording": part.recording, "part": "\(part.part)"])
            await post(part, duration: part.recorded)
        }
    }

    private func say(_ event: String, _ fields: [String: String]) {
        let words = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        output.emit(fields.merging(["event": event]) { first, _ in first }, "\(event): " + words)
    }
}

/// The recorder's identity in one job: the job's token opens the socket, the claim named the ICE servers, and the
/// lease's renewals keep the token fresh and say when to stop.
final class RecorderIdentity: AttendeeIdentity, Sendable {
    let client: ParleyClient
    let webSocketURL: String
    private let claimed: ClaimedRecording
    private let recorder: RecorderClient
    private let part: SpooledPart
    private let stop = Mutex<(@Sendable () -> Void)?>(nil)
    private let lostJob = Atomic(false)
    /// When the socket was last handed a fresh token.
    private let authorized = Mutex(ContinuousClock.now)

    /// How often the socket is handed a fresh token: well within its 15 minutes.
    static let reauthorizeEvery: Duration = .seconds(300)

    init(server: String, claimed: ClaimedRecording, client recorder: RecorderClient, part: SpooledPart) {
        (self.claimed, self.recorder, self.part) = (claimed, recorder, part)
        client = ParleyClient(baseURL: server)
        client.restore(Session(user: .recorder, accessToken: claimed.token, refreshToken: nil, expiresIn: 0))
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        webSocketURL = (base.hasPrefix("https://") ? "wss://" + base.dropFirst("https://".count) : "ws://" + base.dropFirst("http://".count)) + "/ws"
    }

    /// The job was taken over by another worker, or is gone.
    var lost: Bool { lostJob.load(ordering: .relaxed) }

    func onStop(_ action: @escaping @Sendable () -> Void) { stop.withLock { $0 = action } }

    func iceServers(_ output: Output) async throws -> IceServers { IceServers(claimed.iceServers) }

    /// The recorder is no member: attendees go by their user ids.
    func usernames(in room: String) async -> [String: String] { [:] }

    /// Renews the lease every few seconds, noting in the spool how long the part has run, and now and then hands the
    /// socket a fresh token. A renewal that says stop, or that finds the job another worker's or gone, ends the
    /// attendance; one that does not reach the nodes is tried again at the next turn, since the lease outlasts several.
    func keepRenewed(_ live: LiveClient) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(claimed.renewMs))
            part.note(elapsed: part.elapsed)
            do {
                let renewed = try await recorder.renew(claimed.job)
                client.use(accessToken: renewed.token)
                if authorized.withLock({ $0.duration(to: .now) > Self.reauthorizeEvery }) {
                    _ = try? await live.request(.auth(token: renewed.token))
                    authorized.withLock { $0 = .now }
                }
                if renewed.stop {
                    stop.withLock { $0?() }
                    return
                }
            } catch let error as ParleyClientError where error.status == 409 || error.status == 404 {
                lostJob.store(true, ordering: .relaxed)
                stop.withLock { $0?() }
                return
            } catch is CancellationError {
                return
            } catch {
                Output.error("cannot renew the lease on \(claimed.job.id): \(error)")
            }
        }
    }
}
