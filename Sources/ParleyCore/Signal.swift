/// A WebRTC signal relayed from connection to connection. The server checks its size and shape and passes the
/// payload on as it came.
public enum SignalKind: String, Codable, Sendable, CaseIterable {
    /// `{type: "offer", sdp}`; an ICE restart is a new offer.
    case offer
    /// `{type: "answer", sdp}`
    case answer
    /// `{candidate, sdpMid?, sdpMLineIndex?, usernameFragment?}`; an empty `candidate` ends the candidates.
    case candidate
    /// The sender hangs up on this peer; any payload, or none.
    case bye

    /// Throws `invalid_field` unless `payload` has this kind's shape and fits its limits.
    public func validate(_ payload: JSONValue?) throws {
        switch self {
        case .offer, .answer:
            guard let payload, payload.object != nil, payload["type"].string == rawValue else {
                throw ParleyError.invalid("payload", "of an \(rawValue) must be {type: \"\(rawValue)\", sdp}")
            }
            guard let sdp = payload["sdp"].string, sdp.hasPrefix("v=0") else {
                throw ParleyError.invalid("payload.sdp", "must be a session description starting with v=0")
            }
            guard sdp.utf8.count <= Limits.sdpBytes else {
                throw ParleyError.invalid("payload.sdp", "must be at most \(Limits.sdpBytes) bytes")
            }
        case .candidate:
            guard let payload, payload.object != nil, let candidate = payload["candidate"].string else {
                throw ParleyError.invalid("payload", "of a candidate must be {candidate, sdpMid, sdpMLineIndex}")
            }
            guard candidate.utf8.count <= Limits.candidateBytes else {
                throw ParleyError.invalid("payload.candidate", "must be at most \(Limits.candidateBytes) bytes")
            }
            for key in ["sdpMid", "usernameFragment"] {
                guard payload[key].isNull || payload[key].string.map({ $0.utf8.count <= 256 }) == true else {
                    throw ParleyError.invalid("payload.\(key)", "must be a short string or null")
                }
            }
            switch payload["sdpMLineIndex"] {
            case .null: break
            case .int(let index) where (0...1024).contains(index): break
            default: throw ParleyError.invalid("payload.sdpMLineIndex", "must be a small whole number or null")
            }
        case .bye:
            break
        }
    }
}
