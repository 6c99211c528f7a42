import Foundation
import ParleyCore
import Testing

@testable import parley_peer

@Suite struct PeerSettingsTests {
    @Test func iceServersFromTheTurnEndpoint() throws {
        let answer = try JSONDecoder().decode(
            JSONValue.self,
            from: Data(
                """
                {"iceServers": [
                  {"urls": "stun:127.0.0.1:3478"},
                  {"urls": ["turn:127.0.0.1:3478?transport=udp", "turns:turn.example:5349"],
                   "username": "1700000000:u_abc", "credential": "a+b/c="},
                  {"urls": ["stun:ignored.example:3478", "https://not-ice.example"]}
                ], "ttl": 600}
                """.utf8))
        let servers = IceServers(answer)
        #expect(servers.stun == "stun://127.0.0.1:3478")
        #expect(
            servers.turn == [
                "turn://1700000000%3Au%5Fabc:a%2Bb%2Fc%3D@127.0.0.1:3478?transport=udp",
                "turns://1700000000%3Au%5Fabc:a%2Bb%2Fc%3D@turn.example:5349",
            ])
        #expect(IceServers(.object([:])) == IceServers())
    }

    @Test func midsInOrder() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:audio0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:video1\r\n"
        #expect(SDP.mids(in: sdp) == ["audio0", "video1"])
    }

    /// aiortc offers Opus at 96 and VP8 at 97, browsers VP8 at 96 and Opus at 111: an answer sends with the offer's.
    @Test func payloadTypesOfAnOffer() {
        let aiortc = """
            v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96 0 8\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 97 98 99\r\na=rtpmap:97 VP8/90000\r\na=rtpmap:98 rtx/90000\r\na=rtpmap:99 H264/90000\r\n
            """
        #expect(SDP.payloadTypes(in: aiortc) == [.audio: 96, .video: 97])
        let h264Only = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n"
        #expect(SDP.payloadTypes(in: h264Only).isEmpty)
    }

    @Test func mediaSources() {
        #expect(MediaSource(argument: "test") == .test)
        #expect(MediaSource(argument: "none") == MediaSource.none)
        #expect(MediaSource(argument: "talk.webm") == .file("talk.webm"))
    }
}

/// Two peer connections in one process, on one loopback address, negotiated by hand: what parley-peer's attendance
/// does through Parley, without the server.
@Suite(.serialized) struct PeerMediaTests {
    @Test(.timeLimit(.minutes(1))) func twoPeersDecodeEachOthersVideoAndRecordIt() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (events, continuation) = AsyncStream.makeStream(of: PeerEvent.self)
        // A pipeline each, as two processes would have: their streams' SSRCs differ.
        var pipelines: [LocalMedia] = []
        defer { pipelines.forEach { $0.stop() } }
        /// One side's peer connection to `remote`.
        func peer(to remote: String, polite: Bool, record: URL?) throws -> WebRTCPeer {
            let media = try LocalMedia(video: .test, audio: .test) { Issue.record("media failed: \($0)") }
            pipelines.append(media)
            return try WebRTCPeer(
                conn: remote, user: "u_\(remote)", username: remote, polite: polite, media: media, ice: IceServers(),
                iceAddresses: ["127.0.0.1"], record: record, events: continuation)
        }
        let alice = try peer(to: "bob", polite: true, record: nil)
        let bob = try peer(to: "alice", polite: false, record: folder)

        let offer = try await alice.createOffer()
        try await alice.setDescription(local: true, .offer, sdp: offer)
        try await bob.setDescription(local: false, .offer, sdp: offer)
        let answer = try await bob.createAnswer()
        try await bob.setDescription(local: true, .answer, sdp: answer)
        try await alice.setDescription(local: false, .answer, sdp: answer)
        #expect(answer.contains("VP8/90000") && answer.lowercased().contains("opus/48000"))

        var decoded: Set<String> = []
        for await event in events {
            switch event {
            case .candidate(let from, let mline, let candidate):
                (from === alice ? bob : alice).addCandidate(mline: mline, candidate)
            case .firstFrame(let peer):
                decoded.insert(peer.conn)
            case .iceState, .gathered:
                break
            }
            if decoded.count == 2 { break }
        }
        // Both see the other's video; the audio flows too, as the statistics say within a few seconds.
        try await Task.sleep(for: .seconds(1))
        func flowing(_ counters: PeerCounters) -> Bool { counters.framesDecoded > 0 && counters.audioPacketsIn > 0 && counters.audioPacketsOut > 0 }
        for peer in [alice, bob] {
            let deadline = ContinuousClock.now + .seconds(10)
            var counters = await peer.counters()
            while !flowing(counters), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                counters = await peer.counters()
            }
            #expect(peer.iceState.isConnected)
            #expect(flowing(counters), "\(counters)")
        }
        _ = await alice.close()
        let recorded = try #require(await bob.close())
        #expect(recorded.lastPathComponent == "alice-alice.webm")
        let size = try FileManager.default.attributesOfItem(atPath: recorded.path)[.size] as? Int ?? 0
        #expect(size > 10_000)
    }
}
