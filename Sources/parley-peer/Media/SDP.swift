/// What parley-peer reads from session descriptions itself; webrtcbin reads the rest.
enum SDP {
    /// The `a=mid` of each m-line, in order: a candidate's `sdpMid` from its m-line index.
    static func mids(in sdp: String) -> [String] {
        lines(sdp).filter { $0.hasPrefix("a=mid:") }.map { String($0.dropFirst("a=mid:".count)) }
    }

    /// The payload type the description gives VP8 in its video m-line and Opus in its audio m-line, where it has
    /// them: an answer keeps the offer's payload types.
    static func payloadTypes(in sdp: String) -> [MediaKind: Int] {
        var types: [MediaKind: Int] = [:]
        var section: MediaKind?
        for line in lines(sdp) {
            if line.hasPrefix("m=") {
                section = MediaKind(rawValue: String(line.dropFirst(2).prefix { $0 != " " }))
            } else if let kind = section, types[kind] == nil, line.hasPrefix("a=rtpmap:") {
                let fields = line.dropFirst("a=rtpmap:".count).split(separator: " ", maxSplits: 1)
                if fields.count == 2, fields[1].lowercased().hasPrefix(kind.rtpmapName.lowercased()), let type = Int(fields[0]) {
                    types[kind] = type
                }
            }
        }
        return types
    }

    private static func lines(_ sdp: String) -> [Substring] {
        sdp.split(whereSeparator: \.isNewline)
    }
}
