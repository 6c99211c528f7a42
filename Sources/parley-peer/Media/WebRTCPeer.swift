import CGStreamer
import Foundation
import ParleyCore
import Synchronization

/// What a peer connection reports, from GStreamer's threads.
enum PeerEvent: Sendable {
    /// A local ICE candidate to trickle to the remote peer.
    case candidate(WebRTCPeer, mline: UInt32, candidate: String)
    /// Gathering is complete: the remote peer hears the empty candidate.
    case gathered(WebRTCPeer)
    case iceState(WebRTCPeer, IceState)
    /// The first video frame from this peer was decoded.
    case firstFrame(WebRTCPeer)
}

/// webrtcbin's `ice-connection-state`, named as browsers name it.
enum IceState: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case new, checking, connected, completed, failed, disconnected, closed

    var description: String { ["new", "checking", "connected", "completed", "failed", "disconnected", "closed"][Int(rawValue)] }
    var isConnected: Bool { self == .connected || self == .completed }
}

/// ICE servers as webrtcbin takes them: one STUN server, and TURN servers with their credentials in the URI.
struct IceServers: Sendable, Equatable {
    var stun: String?
    var turn: [String] = []

    init(stun: String? = nil, turn: [String] = []) {
        (self.stun, self.turn) = (stun, turn)
    }

    /// From `GET /api/turn`'s `{iceServers: [{urls, username?, credential?}]}`, as browsers take it. The TURN
    /// credentials go into the URI percent-encoded: a coturn REST username is `{expiry}:{userId}`.
    init(_ answer: JSONValue) {
        for entry in answer["iceServers"].array ?? [] {
            let urls = entry["urls"].array?.compactMap(\.string) ?? entry["urls"].string.map { [$0] } ?? []
            let credentials = [entry["username"].string, entry["credential"].string].map {
                $0?.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            }
            for url in urls {
                guard let colon = url.firstIndex(of: ":") else { continue }
                let scheme = url[..<colon], rest = url[url.index(after: colon)...]
                switch scheme {
                case "stun" where stun == nil: stun = "stun://\(rest)"
                case "turn", "turns": turn.append("\(scheme)://\(credentials[0]):\(credentials[1])@\(rest)")
                default: break
                }
            }
        }
    }
}

/// What a peer connection counted: totals since it began.
struct PeerCounters: Sendable {
    var bytesIn = 0.0, bytesOut = 0.0
    var audioPacketsIn = 0.0, audioPacketsOut = 0.0, videoPacketsIn = 0.0, videoPacketsOut = 0.0
    var packetsLost = 0.0
    /// Seconds, from the remote peer's receiver reports; nil before the first that measured one.
    var roundTrip: Double?
    var framesDecoded = 0
}

/// One peer connection of the mesh: a webrtcbin in the shared pipeline, fed from the local media's tees, whose
/// incoming streams are decoded (counting frames) and, with `--record`, written to WebM.
///
/// With a composer, the connection only receives: it offers an audio and a video m-line to receive Opus and VP8, sends
/// nothing, and hands what it decodes to the composer.
final class WebRTCPeer: @unchecked Sendable {
    let conn: String
    let user: String
    let username: String
    /// Perfect negotiation's role: the side whose connection id sorts first is polite.
    let polite: Bool
    private let webrtc: Element
    private let media: LocalMedia
    private let name: String
    private let events: AsyncStream<PeerEvent>.Continuation
    private let recorder: Recorder?
    private let composer: Composer?
    private let state = Mutex(Links())
    private let frames = Atomic(0)

    /// Unchecked: the elements and pads are GStreamer's thread-safe objects.
    private struct Links: @unchecked Sendable {
        var sending: [(kind: MediaKind, tee: Element, teePad: Pad, branch: Element)] = []
        var receiving: [(kind: MediaKind?, branch: Element)] = []
        var closed = false
    }

    private static let serial = Atomic(0)

    /// A peer connection in `media`'s pipeline. With a `composer` it receives only, composing what it receives
    /// (nothing is then recorded per peer), on the offer's payload types when it answers.
    init(
        conn: String, user: String, username: String, polite: Bool, media: LocalMedia, ice: IceServers, iceAddresses: [String],
        record: URL?, composer: Composer? = nil, payloadTypes: [MediaKind: Int] = [:], events: AsyncStream<PeerEvent>.Continuation
    ) throws {
        (self.conn, self.user, self.username, self.polite, self.media, self.events) = (conn, user, username, polite, media, events)
        self.composer = composer
        let name = "peer-\(conn)-\(Self.serial.add(1, ordering: .relaxed).newValue)"
        self.name = name
        webrtc = try GStreamer.make("webrtcbin")
        gst_object_set_name(UnsafeMutableRawPointer(webrtc).assumingMemoryBound(to: GstObject.self), name)
        webrtc.set("bundle-policy", "max-bundle")
        webrtc.set("latency", "100")
        if let stun = ice.stun { webrtc.set("stun-server", stun) }
        for turn in ice.turn { _ = parley_webrtc_add_turn_server(webrtc, turn) }
        for address in iceAddresses where parley_webrtc_add_local_ip_address(webrtc, address) == 0 {
            throw MediaError("the ICE agent refused the address \(address)")
        }
        recorder = record.flatMap { folder in
            composer != nil ? nil : Recorder(pipeline: media.pipeline, path: folder.appendingPathComponent("\(username)-\(conn).webm"), name: name)
        }

        let context = WeakPeer(self)
        webrtc.connect("on-ice-candidate", unsafeBitCast(onIceCandidate, to: GCallback.self), context)
        webrtc.connect("notify::ice-connection-state", unsafeBitCast(onIceState, to: GCallback.self), context)
        webrtc.connect("notify::ice-gathering-state", unsafeBitCast(onGatheringState, to: GCallback.self), context)
        webrtc.connect("pad-added", unsafeBitCast(onPadAdded, to: GCallback.self), context)
        gst_bin_add(media.pipeline.bin, webrtc)
        if composer != nil {
            for kind in [MediaKind.audio, .video]
            where parley_webrtc_add_recvonly_transceiver(webrtc, kind.rtpCaps(payloadType: payloadTypes[kind] ?? kind.defaultPayloadType)) == 0 {
                throw MediaError("webrtcbin refused a transceiver to receive \(kind)")
            }
            gst_element_sync_state_with_parent(webrtc)
            return
        }
        // Audio first, then video, as browsers order their transceivers. Each part runs before anything flows into
        // it: a pad that is still flushing when the first buffer comes would stop its queue for good.
        let branches = try [MediaKind.audio, .video].map { kind in
            try sendBranch(kind, payloadType: payloadTypes[kind] ?? kind.defaultPayloadType)
        }
        gst_element_sync_state_with_parent(webrtc)
        for (kind, branch) in branches { try link(kind, to: branch) }
    }

    /// A queue and a payloader into a new sink pad of the webrtcbin, whose transceiver gets the kind's codec with
    /// this payload type: its own, when it offers; the remote peer's, when it answers.
    private func sendBranch(_ kind: MediaKind, payloadType: Int) throws -> (MediaKind, Element) {
        let branch = try GStreamer.bin("queue leaky=downstream max-size-time=500000000 ! \(kind.payloader(payloadType: payloadType))")
        gst_bin_add(media.pipeline.bin, branch)
        guard let sink = gst_element_request_pad_simple(webrtc, "sink_%u"), let source = branch.pad("src") else {
            throw MediaError("cannot link \(kind) to the peer connection")
        }
        defer { [sink, source].forEach { gst_object_unref(UnsafeMutableRawPointer($0)) } }
        parley_pad_set_codec_preferences(sink, kind.rtpCaps(payloadType: payloadType))
        guard gst_pad_link(source, sink) == GST_PAD_LINK_OK else { throw MediaError("cannot link \(kind) to the peer connection") }
        return (kind, branch)
    }

    /// Starts the branch, then feeds it from the tee.
    private func link(_ kind: MediaKind, to branch: Element) throws {
        let tee = media.tee(kind)
        gst_element_sync_state_with_parent(branch)
        guard let teePad = gst_element_request_pad_simple(tee, "src_%u"), let sink = branch.pad("sink"),
            gst_pad_link(teePad, sink) == GST_PAD_LINK_OK
        else { throw MediaError("cannot feed the peer connection") }
        gst_object_unref(sink)
        state.withLock { $0.sending.append((kind, tee, teePad, branch)) }
    }

    // MARK: Negotiation

    func createOffer(iceRestart: Bool = false) async throws -> String {
        let sdp = await GStreamer.promise({ parley_webrtc_create_offer(webrtc, iceRestart ? 1 : 0, UnsafeMutablePointer($0)) }) {
            Self.sdp(in: $0, "offer")
        }
        guard let sdp else { throw MediaError("webrtcbin could not create an offer") }
        return sdp
    }

    func createAnswer() async throws -> String {
        let sdp = await GStreamer.promise({ parley_webrtc_create_answer(webrtc, UnsafeMutablePointer($0)) }) { Self.sdp(in: $0, "answer") }
        guard let sdp else { throw MediaError("webrtcbin could not create an answer") }
        return sdp
    }

    /// Sets the local or remote description from SDP text.
    func setDescription(local: Bool, _ type: SignalKindSDP, sdp: String) async throws {
        guard let description = GStreamer.description(type.gstType, sdp: sdp) else { throw MediaError("the \(type) is not SDP") }
        defer { gst_webrtc_session_description_free(description) }
        let failure = await GStreamer.promise({ parley_webrtc_set_description(webrtc, local ? 1 : 0, description, UnsafeMutablePointer($0)) }) {
            reply -> String? in
            guard let reply, gst_structure_has_field(reply, "error") != 0 else { return nil }
            return String(cString: gst_structure_to_string(reply))
        }
        if let failure { throw MediaError("webrtcbin refused the \(local ? "local" : "remote") \(type): \(failure)") }
    }

    func addCandidate(mline: UInt32, _ candidate: String) {
        parley_webrtc_add_ice_candidate(webrtc, mline, candidate)
    }

    private static func sdp(in reply: UnsafePointer<GstStructure>?, _ field: String) -> String? {
        guard let description = parley_reply_description(reply, field) else { return nil }
        defer { gst_webrtc_session_description_free(description) }
        return GStreamer.text(of: description)
    }

    /// Asks for a key frame of this peer's video, so that its first frames decode without waiting for its
    /// receiver's loss report: called when the connection comes up. A receive-only peer asks the remote peer for one
    /// of the video it receives (an RTCP picture-loss indication), if any has come yet.
    func requestKeyFrame() {
        let branch = state.withLock { links in
            links.sending.first { $0.kind == .video }?.branch ?? links.receiving.first { $0.kind == .video }?.branch
        }
        guard let branch, let source = branch.pad("src") else { return }
        parley_pad_request_key_frame(source)
        gst_object_unref(source)
    }

    // MARK: Statistics

    var iceState: IceState { IceState(rawValue: parley_object_get_enum(webrtc, "ice-connection-state")) ?? .new }

    func counters() async -> PeerCounters {
        var counters = await GStreamer.promise({ parley_webrtc_get_stats(webrtc, UnsafeMutablePointer($0)) }) { reply in
            var counters = PeerCounters()
            guard let reply else { return counters }
            for index in 0..<gst_structure_n_fields(reply) {
                guard let report = parley_value_structure(gst_structure_get_value(reply, gst_structure_nth_field_name(reply, UInt32(index))))
                else { continue }
                let kind = Self.kind(of: report)
                func number(_ field: String) -> Double { max(0, parley_structure_number(report, field)) }
                switch GstWebRTCStatsType(rawValue: UInt32(parley_stats_type(report))) {
                case GST_WEBRTC_STATS_INBOUND_RTP:
                    counters.bytesIn += number("bytes-received")
                    counters.packetsLost += number("packets-lost")
                    if kind == .audio { counters.audioPacketsIn += number("packets-received") }
                    if kind == .video { counters.videoPacketsIn += number("packets-received") }
                case GST_WEBRTC_STATS_OUTBOUND_RTP:
                    counters.bytesOut += number("bytes-sent")
                    if kind == .audio { counters.audioPacketsOut += number("packets-sent") }
                    if kind == .video { counters.videoPacketsOut += number("packets-sent") }
                case GST_WEBRTC_STATS_REMOTE_INBOUND_RTP:
                    // A receiver report sent before any sender report reached its peer measures no round trip, and
                    // GStreamer gives it as 0.
                    let roundTrip = parley_structure_number(report, "round-trip-time")
                    if roundTrip > 0 { counters.roundTrip = max(counters.roundTrip ?? 0, roundTrip) }
                default:
                    break
                }
            }
            return counters
        }
        counters.framesDecoded = frames.load(ordering: .relaxed)
        return counters
    }

    /// An RTP stream report's kind, from its clock rate: with bundling, webrtcbin 1.22 names every stream's `kind`
    /// after the first m-line.
    private static func kind(of report: UnsafePointer<GstStructure>) -> MediaKind? {
        let source = parley_value_structure(gst_structure_get_value(report, "gst-rtpsource-stats"))
        switch source.map({ parley_structure_number($0, "clock-rate") }) {
        case 90000: return .video
        case 48000: return .audio
        default: return nil
        }
    }

    // MARK: Incoming media

    /// A stream from the remote peer: decoded (counting video frames) and composed, or, with `--record`, kept in
    /// WebM.
    fileprivate func received(_ pad: Pad) {
        guard let format = pad.rtpFormat else { return }
        if composer != nil {
            compose(pad, format)
            return
        }
        let recording =
            recorder == nil ? "" : " t. ! queue name=record leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000"
        let description: String
        let kind: MediaKind?
        switch (format.media, format.encoding.uppercased()) {
        case ("video", "VP8"):
            kind = .video
            description =
                "queue ! rtpvp8depay ! tee name=t ! queue leaky=downstream ! vp8dec ! fakesink name=frames sync=false async=false" + recording
        case ("audio", "OPUS"):
            kind = .audio
            description =
                "queue ! rtpopusdepay ! opusparse ! tee name=t ! queue leaky=downstream ! opusdec ! fakesink sync=false async=false" + recording
        default:
            kind = nil
            description = "queue ! decodebin ! fakesink sync=false async=false"
        }
        guard let branch = try? GStreamer.bin(description) else { return }
        guard adopt(branch, kind, format.media) else { return }
        // In the pipeline before the recorder links it, and linked to the webrtcbin last, when all is in place.
        media.pipeline.add(branch)
        if let kind, let recorder, let output = branch.pad("src") { recorder.add(kind, output) }
        if let input = branch.pad("sink") {
            gst_pad_link(pad, input)
            gst_object_unref(input)
        }
    }

    /// A stream from the remote peer, decoded to raw frames or samples for the composer. A leaky queue ends each
    /// branch: a composer that falls behind loses frames, and never holds up the webrtcbin.
    private func compose(_ pad: Pad, _ format: (media: String, encoding: String)) {
        let kind: MediaKind?
        let description: String
        let output = "queue name=frames leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000"
        switch (format.media, format.encoding.uppercased()) {
        case ("video", "VP8"):
            kind = .video
            description = "queue ! rtpvp8depay request-keyframe=true ! vp8dec ! \(output)"
        case ("audio", "OPUS"):
            kind = .audio
            description = "queue ! rtpopusdepay ! opusdec plc=true ! \(output)"
        default:
            kind = nil
            description = "queue ! fakesink sync=false async=false"
        }
        guard let branch = try? GStreamer.bin(description), adopt(branch, kind, format.media) else { return }
        media.pipeline.add(branch)
        if let kind, let composer, let decoded = branch.pad("src") {
            composer.add(kind, decoded, conn: conn)
            gst_object_unref(decoded)
        }
        if let input = branch.pad("sink") {
            gst_pad_link(pad, input)
            gst_object_unref(input)
        }
        // The video decodes from its next key frame, which the sender makes at once when asked.
        if kind == .video { requestKeyFrame() }
    }

    /// Names a branch for the incoming stream and keeps it, counting its decoded video frames; false (and the
    /// branch is dropped) once the peer is closed.
    private func adopt(_ branch: Element, _ kind: MediaKind?, _ media: String) -> Bool {
        gst_object_set_name(UnsafeMutableRawPointer(branch).assumingMemoryBound(to: GstObject.self), "\(name)-\(media)")
        let closed = state.withLock { links in
            if !links.closed { links.receiving.append((kind, branch)) }
            return links.closed
        }
        guard !closed else {
            gst_object_unref(branch)
            return false
        }
        if kind == .video, let sink = branch.child("frames") {
            sink.pad("sink")?.onBuffer(WeakPeer(self), onDecodedFrame)
            gst_object_unref(sink)
        }
        return true
    }

    fileprivate func decodedFrame() {
        if frames.add(1, ordering: .relaxed).newValue == 1 { events.yield(.firstFrame(self)) }
    }

    fileprivate func report(_ event: PeerEvent) { events.yield(event) }
    fileprivate var element: Element { webrtc }

    // MARK: Closing

    /// Hangs up: stops the webrtcbin, finishes the recording (returning its file), and takes every element of this
    /// peer out of the pipeline.
    func close() async -> URL? {
        let links = state.withLock { links in
            defer { links = Links(closed: true) }
            return links.closed ? nil : links
        }
        guard let links else { return nil }
        for link in links.sending {
            if let branchSink = link.branch.pad("sink") {
                gst_pad_unlink(link.teePad, branchSink)
                gst_object_unref(branchSink)
            }
            gst_element_release_request_pad(link.tee, link.teePad)
            gst_object_unref(link.teePad)
            gst_object_unref(link.tee)
        }
        media.pipeline.remove(webrtc)
        for link in links.sending { media.pipeline.remove(link.branch) }
        composer?.remove(conn: conn)
        // The end of each incoming stream, so that the recording is finished and its file whole.
        for (_, branch) in links.receiving {
            if let input = branch.pad("sink") {
                gst_pad_send_event(input, gst_event_new_eos())
                gst_object_unref(input)
            }
        }
        let recorded = await recorder?.finish()
        for (_, branch) in links.receiving { media.pipeline.remove(branch) }
        return recorded
    }
}

/// The SDP types the peer sets.
enum SignalKindSDP: String, CustomStringConvertible {
    case offer, answer
    var gstType: GstWebRTCSDPType { self == .offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER }
    var description: String { rawValue }
}

/// What GStreamer's callbacks hold: the peer, weakly, so that a signal outliving it finds nothing.
private final class WeakPeer {
    weak var peer: WebRTCPeer?

    init(_ peer: WebRTCPeer) {
        self.peer = peer
    }

    static func peer(_ context: gpointer?) -> WebRTCPeer? {
        context.flatMap { Unmanaged<WeakPeer>.fromOpaque($0).takeUnretainedValue().peer }
    }
}

private let onIceCandidate: @convention(c) (Element?, guint, UnsafePointer<gchar>?, gpointer?) -> Void = { _, mline, candidate, context in
    guard let peer = WeakPeer.peer(context), let candidate else { return }
    peer.report(.candidate(peer, mline: mline, candidate: String(cString: candidate)))
}

private let onIceState: @convention(c) (Element?, gpointer?, gpointer?) -> Void = { _, _, context in
    guard let peer = WeakPeer.peer(context) else { return }
    peer.report(.iceState(peer, peer.iceState))
}

private let onGatheringState: @convention(c) (Element?, gpointer?, gpointer?) -> Void = { _, _, context in
    guard let peer = WeakPeer.peer(context),
        parley_object_get_enum(peer.element, "ice-gathering-state") == Int32(GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE.rawValue)
    else { return }
    peer.report(.gathered(peer))
}

private let onPadAdded: @convention(c) (Element?, Pad?, gpointer?) -> Void = { _, pad, context in
    guard let peer = WeakPeer.peer(context), let pad, gst_pad_get_direction(pad) == GST_PAD_SRC else { return }
    peer.received(pad)
}

private let onDecodedFrame: GstPadProbeCallback = { _, _, context in
    WeakPeer.peer(context)?.decodedFrame()
    return GST_PAD_PROBE_OK
}
