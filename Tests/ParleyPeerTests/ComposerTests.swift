import Foundation
import ParleyCore
import ParleyTestSupport
import Synchronization
import Testing

@testable import parley_peer

@Suite struct ComposerGridTests {
    @Test func tilesFillTheFrameCentred() {
        #expect(Composer.grid(0).isEmpty)
        #expect(Composer.grid(1) == [.init(x: 0, y: 0, width: 640, height: 360)])
        // Two side by side, the pair centred in height.
        #expect(Composer.grid(2) == [.init(x: 0, y: 90, width: 320, height: 180), .init(x: 320, y: 90, width: 320, height: 180)])
        // Three in two rows: the last row's tile centred.
        #expect(Composer.grid(3).map(\.x) == [0, 320, 160])
        #expect(Composer.grid(3).map(\.y) == [0, 0, 180])
        // Ten in four columns of three rows; every tile inside the frame, none overlapping.
        let ten = Composer.grid(10)
        #expect(Set(ten.map(\.width)) == [160] && Set(ten.map(\.height)) == [90])
        #expect(ten.allSatisfy { $0.x >= 0 && $0.y >= 0 && $0.x + $0.width <= 640 && $0.y + $0.height <= 360 })
        #expect(Set(ten.map { [$0.x, $0.y] }).count == 10)
    }
}

/// A recorder's receive-only peer connections offer to sending peers in the same process, on loopback, negotiated
/// by hand; a second sender joins late and leaves early. The composed file is read back with ffprobe and ffmpeg.
@Suite(.serialized) struct ComposerTests {
    static let available =
        ["compositor", "audiomixer", "webrtcbin", "webmmux"].allSatisfy { run("gst-inspect-1.0", $0).status == 0 }
        && run("ffprobe", "-version").status == 0

    @Test(.enabled(if: available, "needs GStreamer's compositor and webrtcbin, and ffprobe"), .timeLimit(.minutes(1)))
    func recordsEveryAttendeeInOneStreamableFile() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-composer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("meeting.webm")

        var pipelines: [LocalMedia] = []
        defer { pipelines.forEach { $0.stop() } }
        func media(_ source: MediaSource) throws -> LocalMedia {
            let media = try LocalMedia(video: source, audio: source) { Issue.record("media failed: \($0)") }
            pipelines.append(media)
            return media
        }
        let recording = try media(.none)
        // A recorder composes a while after its pipeline started: it signs in and joins first.
        try await Task.sleep(for: .seconds(1))
        let composer = try Composer(pipeline: recording.pipeline, path: file)
        let started = ContinuousClock.now
        let signaling = Signaling()
        let (events, continuation) = AsyncStream.makeStream(of: PeerEvent.self)
        async let routed: Void = signaling.route(events)

        /// The recorder joins a sender: it offers to receive, and the sender answers as Attendance does.
        func join(_ conn: String) async throws -> (receiving: WebRTCPeer, sending: WebRTCPeer) {
            let receiving = try WebRTCPeer(
                conn: conn, user: "u_\(conn)", username: conn, polite: false, media: recording, ice: IceServers(),
                iceAddresses: ["127.0.0.1"], record: nil, composer: composer, events: continuation)
            let offer = try await receiving.createOffer()
            #expect(offer.components(separatedBy: "a=recvonly").count == 3)
            #expect(offer.contains("VP8/90000") && offer.uppercased().contains("OPUS/48000"))
            let sending = try WebRTCPeer(
                conn: "recorder", user: "u_recorder", username: "recorder", polite: true, media: try media(.test), ice: IceServers(),
                iceAddresses: ["127.0.0.1"], record: nil, payloadTypes: SDP.payloadTypes(in: offer), events: continuation)
            signaling.pair(receiving, sending)
            try await receiving.setDescription(local: true, .offer, sdp: offer)
            try await sending.setDescription(local: false, .offer, sdp: offer)
            let answer = try await sending.createAnswer()
            #expect(answer.components(separatedBy: "a=sendonly").count == 3)
            try await sending.setDescription(local: true, .answer, sdp: answer)
            try await receiving.setDescription(local: false, .answer, sdp: answer)
            return (receiving, sending)
        }

        let first = try await join("first")
        #expect(await signaling.decoded(first.receiving, within: .seconds(5)))
        try await Task.sleep(until: started + .seconds(1.5))
        let second = try await join("second")
        #expect(await signaling.decoded(second.receiving, within: .seconds(5)))
        // Both attend for a second and a half at least, however late the second's picture came on a busy machine.
        try await Task.sleep(until: max(started + .seconds(3), .now + .seconds(1.5)))
        let firstCounters = await first.sending.counters()
        #expect(firstCounters.videoPacketsOut > 0 && firstCounters.audioPacketsOut > 0)
        for peer in [second.receiving, second.sending] { _ = await peer.close() }
        try await Task.sleep(until: max(started + .seconds(4), .now + .seconds(1)))
        let duration = try #require(await composer.finish())
        // Four seconds, or longer when a busy machine ran the steps above late: never longer than they took.
        let took = started.duration(to: .now)
        #expect(duration > .seconds(3) && duration < took + .seconds(1), "\(duration) recorded in \(took)")
        #expect(await composer.finish() == nil)
        for peer in [first.receiving, first.sending] { _ = await peer.close() }
        continuation.finish()
        await routed

        // One VP8 grid and one Opus mix.
        let streams = Self.run("ffprobe", "-v", "quiet", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", file.path)
        #expect(streams.output.split(separator: "\n").sorted() == ["opus", "vp8,640,360"])
        // Streamable WebM has no duration: the video's packets span the recording.
        let times = Self.run("ffprobe", "-v", "quiet", "-select_streams", "v", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file.path)
            .output.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let span = (times.max() ?? 0) - (times.min() ?? 0)
        #expect(span > 3 && span < took / .seconds(1) + 1, "the video spans \(span) s of \(took)")
        // At 15 frames a second throughout: attendees joining and leaving stall nothing.
        #expect(Double(times.count) > span * 13 && Double(times.count) < span * 17, "\(times.count) frames in \(span) s")
        // While both attend, their pictures are side by side, each with its clock at its bottom right.
        func bothClocks(at seconds: Double) -> Bool {
            let frame = Self.run(
                "ffmpeg", "-v", "quiet", "-i", file.path, "-ss", "\(seconds)", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"
            )
            .data
            func brightest(x: Range<Int>, y: Range<Int>) -> UInt8 {
                guard frame.count == Composer.width * Composer.height else { return 0 }
                return y.flatMap { row in x.map { frame[frame.startIndex + row * Composer.width + $0] } }.max() ?? 0
            }
            return brightest(x: 240..<315, y: 235..<260) > 128 && brightest(x: 560..<635, y: 235..<260) > 128
        }
        // Looked for in the whole file, a quarter of a second apart: on a busy machine the file's clock and this
        // test's drift apart, and the time both attend moves within it.
        #expect(stride(from: 0, through: span, by: 0.25).contains(where: bothClocks), "no frame with two clocks in \(span) s")
        // The senders' tones are in the mix.
        let volume = Self.run("ffmpeg", "-hide_banner", "-nostats", "-i", file.path, "-vn", "-af", "volumedetect", "-f", "null", "-").output
        let loudest = volume.split(separator: "\n").first { $0.contains("max_volume:") }
            .flatMap { Double($0.split(separator: " ").dropLast().last ?? "") }
        #expect((loudest ?? -100) > -40, "max volume \(loudest.map { "\($0) dB" } ?? "unknown")")

        // A process killed mid-recording leaves the file cut anywhere: what was written still plays.
        let data = try Data(contentsOf: file)
        let cut = folder.appendingPathComponent("cut.webm")
        try data.prefix(data.count * 6 / 10).write(to: cut)
        let frames = Self.run(
            "ffprobe", "-v", "quiet", "-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
            cut.path)
        #expect((Int(frames.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 10, "frames read: \(frames.output)")
    }

    /// A tool's exit status and its output and errors together.
    @discardableResult
    static func run(_ arguments: String...) -> (status: Int32, data: Data, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        guard (try? launch(process)) != nil else { return (-1, Data(), "") }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output, String(decoding: output, as: UTF8.self))
    }
}

/// What Parley would carry between the peers: each one's candidates to the other of its pair. It also keeps who has
/// decoded a frame, and asks each peer for a key frame once connected, as Attendance does.
private final class Signaling: Sendable {
    private struct State {
        var partners: [ObjectIdentifier: WebRTCPeer] = [:]
        var decoded: Set<ObjectIdentifier> = []
    }

    private let state = Mutex(State())
    private let changed = Waiters()

    func pair(_ one: WebRTCPeer, _ other: WebRTCPeer) {
        state.withLock { state in
            state.partners[ObjectIdentifier(one)] = other
            state.partners[ObjectIdentifier(other)] = one
        }
    }

    func route(_ events: AsyncStream<PeerEvent>) async {
        for await event in events {
            switch event {
            case .candidate(let from, let mline, let candidate):
                state.withLock { $0.partners[ObjectIdentifier(from)] }?.addCandidate(mline: mline, candidate)
            case .iceState(let peer, let ice):
                if ice.isConnected { peer.requestKeyFrame() }
            case .firstFrame(let peer):
                state.withLock { _ = $0.decoded.insert(ObjectIdentifier(peer)) }
                changed.resumeAll()
            case .gathered:
                break
            }
        }
    }

    /// Whether `peer` decodes a video frame within `limit`.
    func decoded(_ peer: WebRTCPeer, within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.changed.wait(cancelled: false) { self.state.withLock { $0.decoded.contains(ObjectIdentifier(peer)) } ? true : nil }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }
}
