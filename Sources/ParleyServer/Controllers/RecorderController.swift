import Crypto
import Foundation
import Hummingbird
import ParleyCore
import ParleyStore

/// What recorder workers call (`parley-peer record-worker`), with `Authorization: Bearer <PARLEY_RECORDER_SECRET>`:
/// they are services, not users. A worker asks for a job, renews its lease while it records, uploads each part it
/// recorded through the files store, posts it in the room, and says when it is done. A node without a secret
/// serves none of this, and so accepts no recording.
struct RecorderController {
    let recordings: Recordings
    let files: FileController
    let secret: String

    struct Worker: Decodable {
        let worker: String
    }

    struct Part: Decodable {
        let worker: String
        let part: Int
        var lost: Bool?
    }

    struct Claimed: Encodable {
        let job: RecordingJob
        /// The recorder's access token, for the socket that attends the meeting.
        let token: String
        let leaseMs: Int64
        let renewMs: Int64
        /// As `GET /api/turn` answers a user: the recorder reaches attendees behind NAT as they reach each other.
        let iceServers: ICEServers.Answer
    }

    struct Renewed: Encodable {
        /// The job was asked to stop: finish the file and post it.
        let stop: Bool
        let token: String
    }

    struct Upload: Decodable {
        let part: Int
        let size: Int64
    }

    struct Post: Decodable {
        let file: String
        let durationMs: Int64
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let group = router.group("api/recorder").add(middleware: RecorderAuthenticator(secret: secret))
        group.post("claim", use: claim)
        group.post("recordings/:id/renew", use: renew)
        group.post("recordings/:id/finish", use: finish)
        group.post("recordings/:id/parts", use: upload)
        group.post("recordings/:id/parts/:part/message", use: post)
    }

    /// 200 with a job and the token to attend its meeting with; 204 when there is none.
    @Sendable func claim(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.json(Worker.self, context: context)
        guard let claimed = try await recordings.claim(worker: try Self.workerName(body.worker)) else { return Response(status: .noContent) }
        return try JSONBody(claimed).response(from: request, context: context)
    }

    /// 200 with whether to stop and a fresh token; 409 when the worker holds the job no more, 404 when there is none.
    @Sendable func renew(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Renewed> {
        let body = try await request.json(Part.self, context: context)
        let id = try await self.job(context).id
        guard
            let job = try await recordings.store.renewRecording(
                id, worker: body.worker, part: body.part, lease: Recordings.lease.milliseconds, now: .now)
        else { throw ParleyError(.conflict, "the recording is no longer this worker's") }
        return JSONBody(Renewed(stop: job.state == .stopping, token: try await recordings.token(for: job)))
    }

    /// 200 with the job as it ended; 409 when the worker holds it no more, 404 when there is none.
    @Sendable func finish(_ request: Request, context: AppRequestContext) async throws -> JSONBody<RecordingJob> {
        let body = try await request.json(Part.self, context: context)
        let id = try await self.job(context).id
        guard let change = try await recordings.store.finishRecording(id, worker: body.worker, part: body.part, lost: body.lost ?? false, now: .now)
        else { throw ParleyError(.conflict, "the recording is no longer this worker's") }
        await recordings.announce(change)
        return JSONBody(change.job!)
    }

    /// 201 with the part's file and where to send its bytes, as `POST /api/rooms/{room}/files` answers a member.
    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> JSONBody<FileController.Announced> {
        let body = try await request.json(Upload.self, context: context)
        let job = try await self.job(context)
        guard (1...10_000).contains(body.part) else { throw ParleyError.invalid("part", "must be 1 to 10000") }
        guard body.size > 0 else { throw ParleyError.invalid("size", "must be at least 1 byte") }
        guard body.size <= recordings.maxBytes else { throw ParleyError(.tooLarge, "a recording may hold at most \(recordings.maxBytes) bytes") }
        let file = StoredFile(
            ref: FileRef(
                id: Identifier.make("f"), name: try FileRules.name(Self.fileName(job, part: body.part)), size: body.size, contentType: "video/webm"),
            room: job.room, uploader: User.recorderId, createdAt: .now)
        return JSONBody(try await files.offer(file), status: .created)
    }

    /// 201 with the message that posted the part, 200 when it was posted before.
    @Sendable func post(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Message> {
        let body = try await request.json(Post.self, context: context)
        let job = try await self.job(context)
        guard let part = Int(try context.parameters.require("part")), (1...10_000).contains(part) else {
            throw ParleyError.invalid("part", "must be 1 to 10000")
        }
        guard body.durationMs >= 0 else { throw ParleyError.invalid("durationMs", "must be 0 or more") }
        let sent = try await recordings.post(job, part: part, file: body.file, duration: .milliseconds(body.durationMs))
        return JSONBody(sent.message, status: sent.created ? .created : .ok)
    }

    private func job(_ context: AppRequestContext) async throws -> RecordingJob {
        guard let job = try await recordings.store.recording(try context.parameters.require("id")) else { throw ParleyError.notFound("recording") }
        return job
    }

    /// "recording-2026-12-07-1340-part2.webm": the date and time the job was asked for, in UTC.
    static func fileName(_ job: RecordingJob, part: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let at = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: job.requestedAt.date)
        let stamp = String(format: "%04d-%02d-%02d-%02d%02d", at.year!, at.month!, at.day!, at.hour!, at.minute!)
        return "recording-\(stamp)\(part > 1 ? "-part\(part)" : "").webm"
    }

    static func workerName(_ name: String) throws -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains) else {
            throw ParleyError.invalid("worker", "must be 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        return name
    }
}

/// Requires `Authorization: Bearer <PARLEY_RECORDER_SECRET>`, compared in constant time.
struct RecorderAuthenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let secret: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? Data($0.utf8.dropFirst("Bearer ".count)) : nil }
        guard let given,
            HMAC<SHA256>.isValidAuthenticationCode(
                HMAC<SHA256>.authenticationCode(for: given, using: key), authenticating: Data(secret.utf8), using: key)
        else { throw ParleyError(.unauthorized, "recorders prove themselves with Authorization: Bearer <PARLEY_RECORDER_SECRET>") }
        return try await next(request, context)
    }

    /// Both sides are MACed under one random key, so that comparing them takes the same time wherever they differ.
    private let key = SymmetricKey(size: .bits256)
}
