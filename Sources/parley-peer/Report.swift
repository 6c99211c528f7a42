import Foundation
import ParleyCommandLine
import ParleyCore

/// What parley-peer prints on standard output: a line for people, or with `--json` one JSON object per line whose
/// `event` names it.
struct Report {
    let output: Output
    /// When the program started: `first-frame` counts from here.
    let started = ContinuousClock.now

    private func emit(_ event: String, _ fields: [String: JSONValue], _ human: @autoclosure () -> String) {
        output.emit(JSONValue.object(fields.merging(["event": .string(event)]) { $1 }), human())
    }

    private func peerFields(_ peer: WebRTCPeer) -> [String: JSONValue] {
        ["conn": .string(peer.conn), "user": .string(peer.user), "username": .string(peer.username)]
    }

    func connected(node: String, conn: String) {
        Output.error("connected to node \(node) as \(conn)")
        guard output.json else { return }
        output.line(Output.encode(JSONValue.object(["event": .string("server"), "state": .string("connected"), "node": .string(node), "conn": .string(conn)])))
    }

    func joined(_ meeting: Meeting, conn: String) {
        emit(
            "joined", ["meeting": .string(meeting.id), "room": .string(meeting.room), "conn": .string(conn)],
            "joined meeting \(meeting.id) in room \(meeting.room) as \(conn), with \(meeting.attendees.count - 1) other attendee(s)")
    }

    func ringing(_ meeting: Meeting) {
        emit("ringing", ["meeting": .string(meeting.id), "room": .string(meeting.room), "host": .string(meeting.host)], "ringing: meeting \(meeting.id) in room \(meeting.room)")
    }

    func attendee(joined: Bool, _ attendee: Attendee, username: String) {
        emit(
            joined ? "attendee.joined" : "attendee.left",
            ["conn": .string(attendee.conn), "user": .string(attendee.user), "username": .string(username)],
            "\(username) (\(attendee.conn)) \(joined ? "joined" : "left")")
    }

    func peer(_ peer: WebRTCPeer, state: IceState) {
        emit("peer", peerFields(peer).merging(["state": .string(state.description)]) { $1 }, "\(peer.username) (\(peer.conn)): ICE \(state)")
    }

    func firstFrame(_ peer: WebRTCPeer) {
        let elapsed = started.duration(to: .now)
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        emit(
            "first-frame", peerFields(peer).merging(["afterMs": .int(milliseconds)]) { $1 },
            "\(peer.username) (\(peer.conn)): first video frame decoded, \(milliseconds) ms after start")
    }

    func media(_ state: MediaState) {
        emit("media", ["audio": .bool(state.audio), "video": .bool(state.video)], "sending audio \(state.audio ? "on" : "off"), video \(state.video ? "on" : "off")")
    }

    func recorded(_ peer: WebRTCPeer, path: URL) {
        emit("recorded", peerFields(peer).merging(["path": .string(path.path)]) { $1 }, "recorded \(peer.username) (\(peer.conn)) to \(path.path)")
    }

    func ended(_ meeting: String, reason: String) {
        emit("ended", ["meeting": .string(meeting), "reason": .string(reason)], "meeting \(meeting) ended (\(reason))")
    }

    /// A peer's statistics; bitrates over the time since the previous line.
    func stats(_ peer: WebRTCPeer, ice: IceState, _ counters: PeerCounters, since previous: (PeerCounters, Duration)?) {
        func rate(_ bytes: KeyPath<PeerCounters, Double>) -> Int64 {
            guard let (before, elapsed) = previous else { return 0 }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return seconds > 0 ? Int64(max(0, counters[keyPath: bytes] - before[keyPath: bytes]) * 8 / seconds) : 0
        }
        let (bitrateIn, bitrateOut) = (rate(\.bytesIn), rate(\.bytesOut))
        let fields: [String: JSONValue] = [
            "ice": .string(ice.description), "bitrateIn": .int(bitrateIn), "bitrateOut": .int(bitrateOut),
            "framesDecoded": .int(Int64(counters.framesDecoded)), "audioPacketsIn": .int(Int64(counters.audioPacketsIn)),
            "audioPacketsOut": .int(Int64(counters.audioPacketsOut)), "videoPacketsIn": .int(Int64(counters.videoPacketsIn)),
            "videoPacketsOut": .int(Int64(counters.videoPacketsOut)), "packetsLost": .int(Int64(counters.packetsLost)),
            "rtt": counters.roundTrip.map(JSONValue.double) ?? .null,
        ]
        let roundTrip = counters.roundTrip.map { "\(Int($0 * 1000)) ms" } ?? "-"
        emit(
            "stats", peerFields(peer).merging(fields) { $1 },
            "\(peer.username) (\(peer.conn)): ice \(ice), in \(bitrateIn / 1000) kbit/s, out \(bitrateOut / 1000) kbit/s, "
                + "\(counters.framesDecoded) frames decoded, \(Int(counters.packetsLost)) packets lost, rtt \(roundTrip)")
    }
}
