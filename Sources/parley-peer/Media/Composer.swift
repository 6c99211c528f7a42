import CGStreamer
import Foundation
import ParleyCore
import Synchronization

/// A meeting's recording: every attendee's decoded video in one grid over a black background, their audio mixed,
/// re-encoded (VP8, Opus) into one streamable WebM file.
///
/// It runs in the pipeline it is given, which is already playing. Its own live sources (black video, silence) keep
/// the file going while nobody sends, and the aggregators run on the clock, so an attendee whose stream stalls or
/// never starts holds nothing up. The WebM is streamable (no index, no duration, clusters written as they fill) and
/// written unbuffered, so a process killed mid-recording leaves a file that plays up to the kill. An encoder that falls
/// behind loses frames (a leaky queue feeds it) rather than holding the grid up.
///
/// Unchecked: the elements and pads are GStreamer's thread-safe objects and never change; the attendees' inputs and
/// the span written are behind mutexes.
final class Composer: @unchecked Sendable {
    let path: URL
    private let pipeline: Element
    private let bin: Element
    private let compositor: Element
    private let mixer: Element
    private let state = Mutex(Inputs())
    private let span = Mutex(Span())
    fileprivate let end = FileEnd()

    static let width = 640, height = 360, framerate = 15
    /// How late a remote stream's buffers may come and still be composed: webrtcbin's jitter buffer holds them
    /// 100 ms, and decoding takes some more. The aggregators learn their upstream latency when they start, before
    /// any attendee is linked, so they are told this instead.
    static let latency: Duration = .milliseconds(300)

    /// Unchecked: the pads are GStreamer's thread-safe objects.
    private struct Inputs: @unchecked Sendable {
        /// In the order they joined, which is the order of the tiles.
        var joined: [Input] = []
        var finished = false
    }

    /// One attendee's stream, linked to a sink pad of the compositor or the mixer through a ghost pad of the bin.
    private struct Input {
        let conn: String
        let kind: MediaKind
        let upstream: Pad
        let ghost: Pad
        let target: Pad
    }

    /// The timestamp of the first video frame written, and the end of the last.
    private struct Span {
        var first: GstClockTime?
        var end: GstClockTime = 0
    }

    /// Starts recording into `path`.
    init(pipeline: Element, path: URL) throws {
        (self.pipeline, self.path) = (pipeline, path)
        let video = "video/x-raw,width=\(Self.width),height=\(Self.height),framerate=\(Self.framerate)/1"
        let audio = "audio/x-raw,rate=48000,channels=2"
        let aggregator = "latency=\(Int64(Self.latency / .nanoseconds(1))) start-time-selection=first"
        bin = try GStreamer.bin(
            """
            videotestsrc name=background is-live=true pattern=black ! \(video) \
            ! compositor name=compositor background=black \(aggregator) sink_0::zorder=0 ! \(video) \
            ! queue max-size-buffers=2 leaky=downstream ! videoconvert \
            ! vp8enc name=encoder deadline=1 cpu-used=12 threads=1 target-bitrate=1000000 keyframe-max-dist=\(2 * Self.framerate) \
            ! queue ! webmmux name=mux streamable=true offset-to-zero=true \
            ! filesink name=file location="\(path.path)" async=false buffer-mode=unbuffered \
            audiotestsrc name=silence is-live=true wave=silence ! \(audio) \
            ! audiomixer name=mixer \(aggregator) ! \(audio) ! audioconvert ! opusenc bitrate=64000 ! queue ! mux.
            """)
        gst_object_set_name(UnsafeMutableRawPointer(bin).assumingMemoryBound(to: GstObject.self), "composer")
        compositor = bin.child("compositor")!
        mixer = bin.child("mixer")!
        if let encoder = bin.child("encoder"), let source = encoder.pad("src") {
            source.onBuffer(self, onEncodedFrame)
            gst_object_unref(source)
            gst_object_unref(encoder)
        }
        if let file = bin.child("file"), let sink = file.pad("sink") {
            gst_pad_add_probe(
                sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, onFileEvent, Unmanaged.passRetained(self).toOpaque(),
                { Unmanaged<Composer>.fromOpaque($0!).release() })
            gst_object_unref(sink)
            gst_object_unref(file)
        }
        pipeline.add(bin)
    }

    deinit {
        gst_object_unref(compositor)
        gst_object_unref(mixer)
    }

    // MARK: Attendees

    /// An attendee's decoded stream joins: `pad` is the unlinked source pad of a bin already in the pipeline. The
    /// video tiles are laid out again.
    func add(_ kind: MediaKind, _ pad: Pad, conn: String) {
        let linked = state.withLock { inputs -> Bool in
            guard !inputs.finished, let target = gst_element_request_pad_simple(kind == .video ? compositor : mixer, "sink_%u")
            else { return false }
            let ghost = gst_ghost_pad_new(nil, target)!
            gst_pad_set_active(ghost, 1)
            gst_element_add_pad(bin, ghost)
            guard gst_pad_link(pad, ghost) == GST_PAD_LINK_OK else {
                gst_element_remove_pad(bin, ghost)
                gst_element_release_request_pad(kind == .video ? compositor : mixer, target)
                gst_object_unref(target)
                return false
            }
            if kind == .video { target.set("sizing-policy", "keep-aspect-ratio") }
            gst_object_ref(pad)
            gst_object_ref(ghost)
            inputs.joined.append(Input(conn: conn, kind: kind, upstream: pad, ghost: ghost, target: target))
            layOut(inputs.joined)
            return true
        }
        // A stream left unlinked would fail its pipeline at its first buffer.
        if !linked { Self.block(pad) }
    }

    /// An attendee's streams leave, and the video tiles are laid out again. Its streams are held from then on: the
    /// caller takes them out of the pipeline.
    func remove(conn: String) {
        state.withLock { inputs in
            guard !inputs.finished else { return }
            let leaving = inputs.joined.filter { $0.conn == conn }
            inputs.joined.removeAll { $0.conn == conn }
            leaving.forEach(detach)
            if !leaving.isEmpty { layOut(inputs.joined) }
        }
    }

    private func layOut(_ inputs: [Input]) {
        let videos = inputs.filter { $0.kind == .video }
        for (zorder, (input, tile)) in zip(videos, Self.grid(videos.count)).enumerated() {
            for (property, value) in [("xpos", tile.x), ("ypos", tile.y), ("width", tile.width), ("height", tile.height), ("zorder", zorder + 1)] {
                input.target.set(property, "\(value)")
            }
        }
    }

    /// Holds the stream, unlinks it and gives its sink pad back.
    private func detach(_ input: Input) {
        Self.block(input.upstream)
        gst_element_remove_pad(bin, input.ghost)
        gst_element_release_request_pad(input.kind == .video ? compositor : mixer, input.target)
        [input.upstream, input.ghost, input.target].forEach { gst_object_unref(UnsafeMutableRawPointer($0)) }
    }

    /// Holds every buffer and event that comes to `pad`, until its element stops.
    private static func block(_ pad: Pad) {
        gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, { _, _, _ in GST_PAD_PROBE_OK }, nil, nil)
    }

    /// Where a picture goes in the frame.
    struct Tile: Equatable {
        var x, y, width, height: Int
    }

    /// `count` tiles of the frame's shape in ceil(√count) columns, as large as fit, the rows and the grid centred.
    static func grid(_ count: Int) -> [Tile] {
        guard count > 0 else { return [] }
        let columns = Int(Double(count).squareRoot().rounded(.up))
        let rows = (count + columns - 1) / columns
        // Even sizes, as I420 takes them.
        func even(_ value: Int) -> Int { value & ~1 }
        var width = even(Self.width / columns), height = even(width * Self.height / Self.width)
        if height * rows > Self.height {
            height = even(Self.height / rows)
            width = even(height * Self.width / Self.height)
        }
        let top = (Self.height - rows * height) / 2
        return (0..<count).map { index in
            let row = index / columns
            let inRow = min(columns, count - row * columns)
            let left = (Self.width - inRow * width) / 2
            return Tile(x: left + (index % columns) * width, y: top + row * height, width: width, height: height)
        }
    }

    // MARK: The end

    /// Ends the file (every stream's end goes through the encoders, so that the muxer writes what it holds), waiting
    /// a few seconds at most, and takes the composer out of the pipeline. Returns how long the recording runs, from
    /// the first frame written to the end of the last; nil when nothing was written, or after the first call.
    func finish() async -> Duration? {
        let joined = state.withLock { inputs -> [Input]? in
            defer { inputs.finished = true }
            return inputs.finished ? nil : inputs.joined
        }
        guard let joined else { return nil }
        for input in joined {
            Self.block(input.upstream)
            gst_pad_send_event(input.ghost, gst_event_new_eos())
        }
        for name in ["background", "silence"] {
            guard let source = bin.child(name) else { continue }
            gst_element_send_event(source, gst_event_new_eos())
            gst_object_unref(source)
        }
        await end.wait()
        joined.forEach(detach)
        pipeline.remove(bin)
        return span.withLock { span in span.first.map { .nanoseconds(Int64(span.end - min(span.end, $0))) } }
    }

    fileprivate func encoded(_ buffer: UnsafeMutablePointer<GstBuffer>) {
        let (pts, duration) = (buffer.pointee.pts, buffer.pointee.duration)
        guard pts != GstClockTime.max else { return }
        span.withLock { span in
            if span.first == nil { span.first = pts }
            span.end = max(span.end, pts + (duration == GstClockTime.max ? 0 : duration))
        }
    }

}

private let onEncodedFrame: GstPadProbeCallback = { _, info, context in
    if let buffer = info.flatMap({ gst_pad_probe_info_get_buffer($0) }) {
        Unmanaged<Composer>.fromOpaque(context!).takeUnretainedValue().encoded(buffer)
    }
    return GST_PAD_PROBE_OK
}

/// The file is whole when the end of the streams reaches it.
private let onFileEvent: GstPadProbeCallback = { _, info, context in
    if let event = info.flatMap({ gst_pad_probe_info_get_event($0) }), event.pointee.type == GST_EVENT_EOS {
        Unmanaged<Composer>.fromOpaque(context!).takeUnretainedValue().end.mark()
    }
    return GST_PAD_PROBE_OK
}
