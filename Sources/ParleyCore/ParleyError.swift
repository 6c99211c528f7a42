/// An error a user of Parley can act on: a stable machine-readable `code` and a human-readable `message`.
///
/// Every boundary speaks it: REST answers `{"error": {"code", "message", "field"?}}` with the status that fits the
/// code, and the WebSocket gateway sends it in an `error` frame or a reply.
public struct ParleyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code, documented in `docs/protocol.md`.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The request is malformed: bad JSON, a missing field, a bad query parameter.
        public static let badRequest = Code(rawValue: "bad_request")
        /// A field is present but out of its limits; the message names the field.
        public static let invalidField = Code(rawValue: "invalid_field")
        /// No valid credentials: a missing, expired or wrongly signed token, or a wrong password.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// The caller is known but their role does not allow this.
        public static let forbidden = Code(rawValue: "forbidden")
        /// No such thing, or nothing the caller may see.
        public static let notFound = Code(rawValue: "not_found")
        /// The request conflicts with what exists, such as a taken username.
        public static let conflict = Code(rawValue: "conflict")
        /// The meeting already has as many attendees as it may hold.
        public static let meetingFull = Code(rawValue: "meeting_full")
        /// The meeting has ended: it can be neither joined nor answered.
        public static let meetingEnded = Code(rawValue: "meeting_ended")
        /// No recorder worker is free to record: none runs, or all are busy. REST answers 503.
        public static let recorderUnavailable = Code(rawValue: "recorder_unavailable")
        /// The group's owner or an admin forbade recording its meetings.
        public static let recordingForbidden = Code(rawValue: "recording_forbidden")
        /// A signal's target connection is no longer there.
        public static let peerGone = Code(rawValue: "peer_gone")
        /// A request body over the size limit.
        public static let tooLarge = Code(rawValue: "too_large")
        /// Too many frames too fast (the connection closes with 1008 after this), too many attempts or connections:
        /// REST answers 429 with `Retry-After`.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// A request head or body that took longer than its deadline.
        public static let timeout = Code(rawValue: "timeout")
        /// A REST body that is not `application/json`.
        public static let unsupportedMediaType = Code(rawValue: "unsupported_media_type")
        /// The node is draining or stopping: try again, and the load balancer sends you to another node.
        public static let unavailable = Code(rawValue: "unavailable")
        /// Something failed on the server; the details are in the server log, never in the answer.
        public static let `internal` = Code(rawValue: "internal")
    }

    public var code: Code
    public var message: String
    /// Seconds after which trying again may succeed; REST sends it as `Retry-After`.
    public var retryAfter: Int?
    /// The request's field at fault, for `invalid_field`: a form shows the error beside it.
    public var field: String?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.field = field
    }

    public var description: String { "\(code): \(message)" }

    public static func notFound(_ what: String) -> ParleyError { ParleyError(.notFound, "\(what) not found") }
    public static func forbidden(_ message: String) -> ParleyError { ParleyError(.forbidden, message) }
    /// Too many of something; try again in `seconds` (at least 1).
    public static func rateLimited(_ message: String, retryAfter seconds: Int) -> ParleyError {
        ParleyError(.rateLimited, message, retryAfter: max(seconds, 1))
    }
    public static func invalid(_ field: String, _ rule: String) -> ParleyError {
        ParleyError(.invalidField, "\(field) \(rule)", field: field)
    }
}
