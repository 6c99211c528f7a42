import CGStreamer
import Foundation
import ParleyCore
import Synchronization

/// `--record`: what one remote attendee sends, in one WebM file, VP8 and Opus as they arrived (nothing is
/// re-encoded).
///
/// The muxer takes its inputs when it starts and no more. A peer's audio and video arrive as separate streams, so
/// the file starts once both have come, or a moment after the first if the other does not come (a peer that joined
/// with its camera off). Until then each stream waits, blocked, in a queue of its own.
final class Recorder: @unchecked Sendable {
    let path: URL
    private let pipeline: Element
    private let name: String
    private let state = Mutex(Inputs())
    private let end = FileEnd()

    /// Unchecked: the elements and pads are GStreamer's thread-safe objects.
    private struct Inputs: @unchecked Sendable {
        var waiting: [(kind: MediaKind, pad: Pad, probe: gulong)] = []
        var mux: Element?
        var done = false
    }

    /// How long the first stream waits for the second.
    static let grace: Duration = .seconds(2)

    init(pipeline: Element, path: URL, name: String) {
        (self.pipeline, self.path, self.name) = (pipeline, path, name)
    }

    /// A stream to record, from a pad that is not linked yet.
    func add(_ kind: MediaKind, _ pad: Pad) {
        let probe = gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, { _, _, _ in GST_PAD_PROBE_OK }, nil, nil)
        let (first, complete) = state.withLock { inputs -> (Bool, Bool) in
            guard inputs.mux == nil else { return (false, false) }
            inputs.waiting.append((kind, pad, probe))
            return (inputs.waiting.count == 1, Set(inputs.waiting.map(\.kind)).count == MediaKind.allCases.count)
        }
        if complete {
            start()
        } else if first {
            Task {
                try? await Task.sleep(for: Self.grace)
                self.start()
            }
        }
    }

    /// Builds the muxer and the file with the streams that have come, and lets them flow.
    private func start() {
        state.withLock { inputs in
            guard inputs.mux == nil, !inputs.done, !inputs.waiting.isEmpty,
                let mux = try? GStreamer.bin("webmmux name=mux ! filesink name=file location=\"\(path.path)\"")
            else { return }
            gst_object_set_name(UnsafeMutableRawPointer(mux).assumingMemoryBound(to: GstObject.self), "\(name)-record")
            inputs.mux = mux
            let muxer = mux.child("mux")!
            defer { gst_object_unref(muxer) }
            // The file is done when its end reaches the sink.
            if let sink = mux.child("file"), let pad = sink.pad("sink") {
                gst_pad_add_probe(
                    pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                    { _, info, context in
                        if let event = info.flatMap({ gst_pad_probe_info_get_event($0) }), event.pointee.type == GST_EVENT_EOS {
                            Unmanaged<Recorder>.fromOpaque(context!).takeUnretainedValue().end.mark()
                        }
                        return GST_PAD_PROBE_OK
                    }, Unmanaged.passRetained(self).toOpaque(), { Unmanaged<Recorder>.fromOpaque($0!).release() })
                gst_object_unref(pad)
                gst_object_unref(sink)
            }
            gst_bin_add(pipeline.bin, mux)
            for input in inputs.waiting {
                guard let muxPad = gst_element_request_pad_simple(muxer, "\(input.kind.rawValue)_%u") else { continue }
                gst_pad_link(input.pad, Self.ghost(muxPad, in: mux))
                gst_object_unref(muxPad)
            }
            gst_element_sync_state_with_parent(mux)
            for input in inputs.waiting { gst_pad_remove_probe(input.pad, input.probe) }
        }
    }

    /// Waits for the file to be finished (the streams' ends have reached it), at most a few seconds, then stops the
    /// muxer. Nil when nothing was recorded.
    func finish() async -> URL? {
        let mux = state.withLock { inputs -> Element? in
            inputs.done = true
            return inputs.mux
        }
        guard let mux else { return nil }
        await end.wait()
        pipeline.remove(mux)
        return path
    }


    private static func ghost(_ pad: Pad, in bin: Element) -> Pad {
        let name = String(cString: gst_object_get_name(UnsafeMutableRawPointer(pad).assumingMemoryBound(to: GstObject.self)))
        let ghost = gst_ghost_pad_new(name, pad)!
        gst_element_add_pad(bin, ghost)
        return ghost
    }
}
