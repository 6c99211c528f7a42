import CGStreamer
import Foundation
import Synchronization

/// What `--video` and `--audio` name: the test pattern (a moving ball with a clock, a tone), nothing, or a file that
/// GStreamer decodes, looped.
enum MediaSource: Equatable, Sendable {
    case test
    case none
    case file(String)

    init?(argument: String) {
        switch argument {
        case "test": self = .test
        case "none": self = .none
        default: self = .file(argument)
        }
    }
}

enum MediaKind: String, Sendable, CaseIterable {
    case audio, video

    /// The payload type this peer offers: the ones browsers offer.
    var defaultPayloadType: Int { self == .video ? 96 : 111 }

    /// The codec's name in an SDP `a=rtpmap` line: VP8 and Opus, as browsers send.
    var rtpmapName: String { self == .video ? "VP8/90000" : "opus/48000" }

    /// The RTP caps of this kind with a payload type, fixed for a peer connection's transceiver.
    func rtpCaps(payloadType: Int) -> String {
        switch self {
        case .video: "application/x-rtp,media=video,encoding-name=VP8,payload=\(payloadType),clock-rate=90000"
        case .audio: "application/x-rtp,media=audio,encoding-name=OPUS,payload=\(payloadType),clock-rate=48000,encoding-params=(string)2"
        }
    }

    /// A peer connection's own payloader, since each peer may have settled on its own payload type.
    func payloader(payloadType: Int) -> String {
        switch self {
        case .video: "rtpvp8pay pt=\(payloadType) mtu=1200 picture-id-mode=15-bit"
        case .audio: "rtpopuspay pt=\(payloadType)"
        }
    }
}

/// The media this peer sends, encoded once for every peer connection: each kind runs source → valve → encoder → a
/// tee, from which each peer connection takes its copy and packs it into RTP itself. Muting closes the valve, so that nothing is
/// encoded or sent; a FILE source is decoded in a pipeline of its own that loops it, feeding this one through an
/// inter element, so that this pipeline stays live.
///
/// Unchecked: GStreamer's elements are thread-safe, and the pointers never change.
final class LocalMedia: @unchecked Sendable {
    let pipeline: Element
    private let files: [Element]
    private let sources: [MediaKind: MediaSource]
    private let watchers: [PipelineWatcher]
    private let sending: Mutex<[MediaKind: Bool]>

    static let width = 640, height = 360, framerate = 30

    /// Builds and starts the pipeline; `failed` is told of an error in it, after which nothing flows.
    init(video: MediaSource, audio: MediaSource, failed: @escaping @Sendable (String) -> Void) throws {
        sources = [.video: video, .audio: audio]
        for case .file(let path) in [video, audio] where !FileManager.default.isReadableFile(atPath: path) {
            throw MediaError("cannot read \(path)")
        }
        let channel = "parley-peer-\(getpid())"
        let raw = "video/x-raw,width=\(Self.width),height=\(Self.height),framerate=\(Self.framerate)/1"
        let videoSource: String
        switch video {
        case .test: videoSource = "videotestsrc is-live=true pattern=ball ! \(raw) ! clockoverlay halignment=right valignment=bottom"
        case .none: videoSource = "videotestsrc is-live=true pattern=black ! \(raw)"
        case .file: videoSource = "intervideosrc channel=\(channel)-video ! \(raw)"
        }
        let audioSource: String
        switch audio {
        case .test: audioSource = "audiotestsrc is-live=true wave=sine freq=440 volume=0.2"
        case .none: audioSource = "audiotestsrc is-live=true wave=silence"
        case .file: audioSource = "interaudiosrc channel=\(channel)-audio"
        }
        pipeline = try GStreamer.pipeline(
            """
            \(videoSource) ! videoconvert ! valve name=video-valve drop-mode=forward-sticky-events drop=\(video == .none) \
            ! queue max-size-buffers=2 leaky=downstream ! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=60 target-bitrate=800000 \
            ! tee name=video allow-not-linked=true \
            \(audioSource) ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 \
            ! valve name=audio-valve drop-mode=forward-sticky-events drop=\(audio == .none) \
            ! opusenc bitrate=32000 ! tee name=audio allow-not-linked=true
            """)
        var files: [Element] = []
        for kind in MediaKind.allCases {
            guard case .file(let path) = sources[kind]! else { continue }
            let uri = URL(fileURLWithPath: path).absoluteString
            let branch =
                kind == .video
                ? "videoconvert ! videoscale ! videorate ! \(raw) ! intervideosink channel=\(channel)-video"
                : "audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! interaudiosink channel=\(channel)-audio"
            files.append(try GStreamer.pipeline("uridecodebin uri=\(uri) name=file caps=\(kind.rawValue)/x-raw file. ! queue ! \(branch)"))
        }
        self.files = files
        sending = Mutex([.video: video != .none, .audio: audio != .none])
        watchers = [PipelineWatcher(pipeline, loop: false, failed: failed)] + files.map { PipelineWatcher($0, loop: true, failed: failed) }
        for element in [pipeline] + files where gst_element_set_state(element, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE {
            throw MediaError("cannot start the media pipeline")
        }
    }

    /// Whether a kind can be sent at all: `none` never can.
    func available(_ kind: MediaKind) -> Bool { sources[kind] != MediaSource.none }

    func isSending(_ kind: MediaKind) -> Bool { sending.withLock { $0[kind] ?? false } }

    /// Starts or stops sending a kind to every peer.
    func setSending(_ kind: MediaKind, _ on: Bool) {
        guard available(kind), let valve = pipeline.child("\(kind.rawValue)-valve") else { return }
        defer { gst_object_unref(valve) }
        valve.set("drop", on ? "false" : "true")
        sending.withLock { $0[kind] = on }
    }

    /// The tee of a kind's encoded stream, with a reference for the caller.
    func tee(_ kind: MediaKind) -> Element { pipeline.child(kind.rawValue)! }

    func stop() {
        watchers.forEach { $0.stop() }
        for element in [pipeline] + files {
            gst_element_set_state(element, GST_STATE_NULL)
        }
    }
}

/// Reads a pipeline's bus on a thread of its own: errors go to `failed`; at the end of a looped file it seeks back to
/// the start.
final class PipelineWatcher: Sendable {
    private let stopped = Atomic(false)
    private let ended = DispatchSemaphore(value: 0)

    init(_ pipeline: Element, loop: Bool, failed: @escaping @Sendable (String) -> Void) {
        let pipeline = UncheckedElement(pipeline)
        Thread.detachNewThread { [self] in
            let bus = gst_element_get_bus(pipeline.element)!
            defer {
                gst_object_unref(bus)
                ended.signal()
            }
            while !self.stopped.load(ordering: .relaxed) {
                let types = GstMessageType(GST_MESSAGE_ERROR.rawValue | GST_MESSAGE_EOS.rawValue)
                guard let message = gst_bus_timed_pop_filtered(bus, 200_000_000, types) else { continue }
                defer { gst_message_unref(message) }
                if message.pointee.type == GST_MESSAGE_EOS, loop {
                    gst_element_seek_simple(pipeline.element, GST_FORMAT_TIME, GstSeekFlags(GST_SEEK_FLAG_FLUSH.rawValue), 0)
                } else if message.pointee.type == GST_MESSAGE_ERROR {
                    var error: UnsafeMutablePointer<GError>?
                    gst_message_parse_error(message, &error, nil)
                    let source = message.pointee.src.flatMap { gst_object_get_path_string($0) }
                    let name = source.map { String(cString: $0) } ?? "?"
                    g_free(source)
                    failed(MediaError(consuming: error, name).description)
                }
            }
        }
    }

    /// Stops reading, and waits for the thread to end (a bus read lasts at most 200 ms), so that none outlives the
    /// pipeline.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        _ = ended.wait(timeout: .now() + 2)
    }
}

/// An element pointer handed between threads; GStreamer's objects are thread-safe.
struct UncheckedElement: @unchecked Sendable {
    let element: Element

    init(_ element: Element) {
        self.element = element
    }
}
