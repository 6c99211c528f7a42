import CGStreamer
import Foundation
import ParleyCore
import Synchronization

/// A GStreamer element: a pipeline, a bin or a single element.
typealias Element = UnsafeMutablePointer<GstElement>
typealias Pad = UnsafeMutablePointer<GstPad>

/// What a failing GStreamer call said.
struct MediaError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    init(consuming error: UnsafeMutablePointer<GError>?, _ context: String) {
        let message = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error"
        if let error { g_error_free(error) }
        description = "\(context): \(message)"
    }
}

enum GStreamer {
    /// Starts GStreamer once, before the first element.
    static let initialized: Void = gst_init(nil, nil)

    /// Makes the process's DTLS certificate on a thread of its own: GStreamer 1.22 makes an RSA key for it with the
    /// first DTLS element, which takes a few hundred milliseconds, and keeps it for every later one. Started while
    /// the peer signs in and connects, it is ready before the first call needs it.
    static func prepareCertificate() {
        Thread.detachNewThread {
            defer { certificateMade.signal() }
            guard let dtls = try? make("dtlsdec") else { return }
            gst_object_unref(dtls)
        }
    }

    private static let certificateMade = DispatchSemaphore(value: 0)

    /// Waits, a few seconds at most, for the certificate `prepareCertificate` makes: the process must not exit while
    /// OpenSSL makes it, or its exit handlers pull OpenSSL's state from under that thread.
    static func awaitCertificate() {
        _ = certificateMade.wait(timeout: .now() + 5)
    }

    /// A bin from a launch description (`queue ! vp8dec ! fakesink`); its unlinked pads become ghost pads, named
    /// `sink` and `src`.
    static func bin(_ description: String) throws -> Element {
        _ = initialized
        var error: UnsafeMutablePointer<GError>?
        guard let bin = gst_parse_bin_from_description(description, 1, &error) else {
            throw MediaError(consuming: error, "cannot build \(description)")
        }
        if let error { g_error_free(error) }
        return bin
    }

    static func pipeline(_ description: String) throws -> Element {
        _ = initialized
        var error: UnsafeMutablePointer<GError>?
        guard let pipeline = gst_parse_launch(description, &error) else {
            throw MediaError(consuming: error, "cannot build \(description)")
        }
        if let error {
            gst_object_unref(pipeline)
            throw MediaError(consuming: error, "cannot build \(description)")
        }
        return pipeline
    }

    static func make(_ factory: String) throws -> Element {
        _ = initialized
        guard let element = gst_element_factory_make(factory, nil) else { throw MediaError("GStreamer has no \(factory) element") }
        return element
    }

    /// Runs a promise-taking action (webrtcbin's create-offer, get-stats, ...) and waits for its reply, which `read`
    /// reads while the promise is still held.
    static func promise<T: Sendable>(_ action: (OpaquePointer) -> Void, read: (UnsafePointer<GstStructure>?) -> T) async -> T {
        let done = await withCheckedContinuation { (continuation: CheckedContinuation<Promise, Never>) in
            let context = Unmanaged.passRetained(PromiseContinuation(continuation)).toOpaque()
            let promise = gst_promise_new_with_change_func(
                { promise, context in
                    let waiter = Unmanaged<PromiseContinuation>.fromOpaque(context!).takeRetainedValue()
                    waiter.continuation.resume(returning: Promise(pointer: promise!))
                }, context, nil)!
            action(OpaquePointer(promise))
        }
        defer { gst_promise_unref(done.pointer) }
        return read(gst_promise_get_reply(done.pointer))
    }

    /// A session description from SDP text, or nil when the text is no SDP GStreamer reads.
    static func description(_ type: GstWebRTCSDPType, sdp: String) -> UnsafeMutablePointer<GstWebRTCSessionDescription>? {
        var message: UnsafeMutablePointer<GstSDPMessage>?
        guard gst_sdp_message_new_from_text(sdp, &message) == GST_SDP_OK, let message else { return nil }
        return gst_webrtc_session_description_new(type, message)
    }

    static func text(of description: UnsafeMutablePointer<GstWebRTCSessionDescription>) -> String {
        guard let text = gst_sdp_message_as_text(description.pointee.sdp) else { return "" }
        defer { g_free(text) }
        return String(cString: text)
    }
}

private struct Promise: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<GstPromise>
}

private final class PromiseContinuation {
    let continuation: CheckedContinuation<Promise, Never>

    init(_ continuation: CheckedContinuation<Promise, Never>) {
        self.continuation = continuation
    }
}

extension UnsafeMutablePointer where Pointee == GstElement {
    var bin: UnsafeMutablePointer<GstBin> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: GstBin.self) }
    var object: UnsafeMutablePointer<GObject> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: GObject.self) }

    /// Sets a property from its text, as gst-launch does (`bundle-policy`, `max-bundle`).
    func set(_ property: String, _ value: String) {
        gst_util_set_object_arg(object, property, value)
    }

    /// A named element inside this bin, with a reference the caller gives back with `gst_object_unref`.
    func child(_ name: String) -> Element? {
        gst_bin_get_by_name(bin, name)
    }

    func pad(_ name: String) -> Pad? {
        gst_element_get_static_pad(self, name)
    }

    /// Adds `element` to this bin, in this bin's state.
    func add(_ element: Element) {
        gst_bin_add(bin, element)
        gst_element_sync_state_with_parent(element)
    }

    /// Stops `element` and takes it out of this bin.
    func remove(_ element: Element) {
        gst_element_set_state(element, GST_STATE_NULL)
        gst_bin_remove(bin, element)
    }

    /// Connects a signal to a C callback, handing it `context`, which lives as long as the connection.
    func connect(_ signal: String, _ callback: GCallback, _ context: AnyObject) {
        g_signal_connect_data(
            object, signal, callback, Unmanaged.passRetained(context).toOpaque(),
            { context, _ in Unmanaged<AnyObject>.fromOpaque(context!).release() }, GConnectFlags(rawValue: 0))
    }
}

extension UnsafeMutablePointer where Pointee == GstPad {
    /// Sets a pad property from its text (a compositor pad's `xpos`, `120`).
    func set(_ property: String, _ value: String) {
        gst_util_set_object_arg(UnsafeMutableRawPointer(self).assumingMemoryBound(to: GObject.self), property, value)
    }

    /// The current caps' first structure's name and fields, as `(media, encoding-name)` for RTP pads.
    var rtpFormat: (media: String, encoding: String)? {
        guard let caps = gst_pad_get_current_caps(self) else { return nil }
        defer { gst_caps_unref(caps) }
        guard let structure = gst_caps_get_structure(caps, 0),
            let media = gst_structure_get_string(structure, "media"),
            let encoding = gst_structure_get_string(structure, "encoding-name")
        else { return nil }
        return (String(cString: media), String(cString: encoding))
    }

    /// Calls `body` for each buffer that passes, on the streaming thread.
    func onBuffer(_ context: AnyObject, _ callback: GstPadProbeCallback) {
        gst_pad_add_probe(
            self, GST_PAD_PROBE_TYPE_BUFFER, callback, Unmanaged.passRetained(context).toOpaque(),
            { context in Unmanaged<AnyObject>.fromOpaque(context!).release() })
    }
}

/// The moment a file's streams have all reached its sink (their end-of-stream), so that it is whole: marked once,
/// from GStreamer's thread, and waited for, at most a few seconds, by whoever finishes the file.
final class FileEnd: Sendable {
    private let waiters = Waiters()
    private let reached = Atomic(false)

    func mark() {
        reached.store(true, ordering: .releasing)
        waiters.resumeAll()
    }

    /// Returns once the end is reached, or after `limit`.
    func wait(atMost limit: Duration = .seconds(5)) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waiters.wait(cancelled: ()) { self.reached.load(ordering: .acquiring) ? () : nil } }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}
