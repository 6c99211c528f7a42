import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import ParleyCore

/// A job a recorder worker claimed: the recording, the recorder's token for the socket that attends its meeting,
/// the ICE servers to reach its attendees with, and how long its lease lasts.
public struct ClaimedRecording: Decodable, Sendable {
    public let job: RecordingJob
    public let token: String
    public let leaseMs: Int64
    public let renewMs: Int64
    public let iceServers: JSONValue
}

/// What renewing a lease answers: whether to stop, and a fresh token for the socket.
public struct RenewedRecording: Decodable, Sendable {
    public let stop: Bool
    public let token: String
}

/// What recorder workers call: the `/api/recorder` routes, with the nodes' `PARLEY_RECORDER_SECRET`.
public struct RecorderClient: Sendable {
    public let rest: ParleyClient
    public let worker: String

    public init(server: String, secret: String, worker: String, http: HTTPClient = .shared) {
        rest = ParleyClient(baseURL: server, http: http)
        // The secret goes where a user's access token would: in `Authorization: Bearer`.
        rest.restore(Session(user: .recorder, accessToken: secret, refreshToken: nil, expiresIn: 0))
        self.worker = worker
    }

    private struct Held: Encodable {
        let worker: String
        var part: Int? = nil
        var lost: Bool? = nil
    }

    /// The oldest job waiting for a worker, or nil when there is none (the server then counts this worker as free).
    public func claim() async throws -> ClaimedRecording? {
        let (status, bytes) = try await rest.exchange(.POST, "/api/recorder/claim", Held(worker: worker), timeout: .seconds(10))
        return status == .noContent ? nil : try JSONDecoder().decode(ClaimedRecording.self, from: bytes)
    }

    /// Extends this worker's lease on a job; 409 `conflict` when it holds the job no more.
    public func renew(_ job: RecordingJob) async throws -> RenewedRecording {
        try await rest.request(.POST, "/api/recorder/recordings/\(job.id)/renew", Held(worker: worker, part: job.part))
    }

    /// This worker is done with its part of the job; `lost` when it could not go on recording.
    public func finish(_ job: RecordingJob, lost: Bool) async throws {
        let _: RecordingJob = try await rest.request(
            .POST, "/api/recorder/recordings/\(job.id)/finish", Held(worker: worker, part: job.part, lost: lost))
    }

    /// Uploads a recorded part of a job from a file, and posts it in the job's room.
    public func post(recording id: String, part: Int, path: String, duration: Duration) async throws -> Message {
        struct Announce: Encodable {
            let part: Int
            let size: Int64
        }
        struct Post: Encodable {
            let file: String
            let durationMs: Int64
        }
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        let announced: AnnouncedFile = try await rest.request(.POST, "/api/recorder/recordings/\(id)/parts", Announce(part: part, size: size))
        try await rest.upload(announced.upload, size: size, from: path)
        return try await rest.request(
            .POST, "/api/recorder/recordings/\(id)/parts/\(part)/message", Post(file: announced.file.id, durationMs: duration.milliseconds))
    }
}
