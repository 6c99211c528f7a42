import Foundation
import Glibc
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// What parley-peer was asked to attend.
enum Mode: Sendable {
    case call(room: String)
    case join(meeting: String)
    /// Answer rings (of one room, or any), `count` calls in all; 0 for no limit.
    case answer(room: String?, count: Int)
    /// Attend a meeting as its recorder: receive every attendee's media, send none, until the recording stops.
    case record(meeting: String)
}

/// Whom an attendance signs in as, and how it reaches the server: a user's stored sign-in, or a recorder's job.
protocol AttendeeIdentity: Sendable {
    var client: ParleyClient { get }
    var webSocketURL: String { get }
    /// The ICE servers to reach other attendees with, retried while the server is out of reach.
    func iceServers(_ output: Output) async throws -> IceServers
    /// The usernames of a room's members, by user id; empty when they cannot be read.
    func usernames(in room: String) async -> [String: String]
    /// Keeps the socket's access token fresh, for as long as the attendance runs.
    func keepRenewed(_ live: LiveClient) async throws
}

extension SignedIn: AttendeeIdentity {
    func iceServers(_ output: Output) async throws -> IceServers {
        try await Reachable.retrying(self, output) { [self] in IceServers(try await call { try await $0.iceServers() }) }
    }

    func usernames(in room: String) async -> [String: String] {
        let members = (try? await call { try await $0.room(room) })?.members ?? []
        return Dictionary(members.map { ($0.user.id, $0.user.username) }) { first, _ in first }
    }
}

struct PeerSettings: Sendable {
    var iceAddresses: [String]
    var record: URL?
    /// Compose every attendee into one grid with mixed audio, written to this file (the recorder's).
    var compose: URL?
    var duration: Duration?
    var stats: Bool
}

/// Everything an attendance reacts to, in one stream, handled one at a time and in order, so that the mesh's state
/// needs no lock: the socket's events, the peer connections', commands on standard input, and the clock.
enum Input: Sendable {
    case live(LiveEvent)
    case peer(PeerEvent)
    case command(String)
    case tick
    /// Leave and exit: `leave`, SIGINT or SIGTERM.
    case stop
    /// A call's `--duration` is over.
    case timeUp(meeting: String)
    case mediaFailed(String)
}

/// One peer connection's negotiation, by the browser's rules (docs/protocol.md, "Signaling"): the newcomer offers;
/// remote candidates wait until the remote description is set; of two offers at once the polite side's gives way.
final class PeerLink {
    let peer: WebRTCPeer
    var awaitingAnswer = false
    var remoteSet = false
    var ignoringOffer = false
    var pending: [(mline: UInt32, candidate: String)] = []
    /// The media ids of the session's m-lines, in order, for the candidates' `sdpMid`.
    var mids: [String] = []
    var ice = IceState.new
    var failedSince: ContinuousClock.Instant?
    var last: (PeerCounters, ContinuousClock.Instant)?

    init(_ peer: WebRTCPeer) {
        self.peer = peer
    }
}

/// parley-peer in a meeting: joins, holds one peer connection per other attendee (a full mesh), signals through
/// Parley, and leaves at the end.
final class Attendance {
    private let identity: any AttendeeIdentity
    private let live: LiveClient
    private let settings: PeerSettings
    private let report: Report
    private let output: Output
    private let mode: Mode
    private let sources: (video: MediaSource, audio: MediaSource)
    private let inputs: AsyncStream<Input>
    private let input: AsyncStream<Input>.Continuation
    private var media: LocalMedia!
    private var composer: Composer?
    /// How long the composed recording runs, once it is finished.
    private(set) var composed: Duration?

    private var conn: String?
    private var meeting: (id: String, room: String)?
    private var usernames: [String: String] = [:]
    private var peers: [String: PeerLink] = [:]
    /// The meeting's other attendees, a recorder left out: it is nobody to stay in a call with.
    private var others: Set<String> = []
    private var ice = IceServers()
    private var calls = 0
    /// The meetings whose call this peer has had: an answering bot does not join them again.
    private var attended: Set<String> = []
    /// The meetings whose `--duration` runs.
    private var timed: Set<String> = []
    private var done = false

    convenience init(_ mode: Mode, _ signedIn: SignedIn, _ options: PeerOptions) {
        self.init(mode, signedIn, video: options.videoSource, audio: options.audioSource, output: options.client.output, settings: options.settings)
    }

    init(_ mode: Mode, _ identity: any AttendeeIdentity, video: MediaSource, audio: MediaSource, output: Output, settings: PeerSettings) {
        self.mode = mode
        self.identity = identity
        self.sources = (video, audio)
        self.output = output
        self.settings = settings
        live = LiveClient(rest: identity.client, urls: [identity.webSocketURL])
        report = Report(output: output)
        (inputs, input) = AsyncStream.makeStream(of: Input.self)
    }

    /// What makes it leave, as `leave` on standard input does, from any thread.
    var stopper: @Sendable () -> Void {
        let input = self.input
        return { input.yield(.stop) }
    }

    func run() async throws {
        GStreamer.prepareCertificate()
        defer { GStreamer.awaitCertificate() }
        let input = self.input
        do {
            media = try LocalMedia(video: sources.video, audio: sources.audio) { input.yield(.mediaFailed($0)) }
            if let path = settings.compose { composer = try Composer(pipeline: media.pipeline, path: path) }
        } catch let error as MediaError {
            throw CLIError("media: \(error)")
        }
        defer { media.stop() }
        if let record = settings.record {
            try FileManager.default.createDirectory(at: record, withIntermediateDirectories: true)
        }
        ice = try await identity.iceServers(output)
        let signals = Self.stopOnSignals(input)
        defer { signals.forEach { $0.cancel() } }
        if case .record = mode {} else { Self.readCommands(input) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [live] in await live.run() }
            group.addTask { [live] in
                for await event in live.events { input.yield(.live(event)) }
            }
            group.addTask { [identity, live] in try await identity.keepRenewed(live) }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    input.yield(.tick)
                }
            }
            defer { group.cancelAll() }
            do {
                for await next in inputs {
                    try await handle(next)
                    if done { break }
                }
                await leave()
            } catch {
                await leave()
                throw error
            }
        }
    }

    // MARK: Inputs

    private func handle(_ next: Input) async throws {
        switch next {
        case .live(.connected(let conn, let node)):
            self.conn = conn
            report.connected(node: node, conn: conn)
            try await connected()
        case .live(.disconnected(let code)):
            if code == 4001 { throw CLIError("the session was signed out: run `parley login USERNAME` again", code: "unauthorized") }
            // The recorder's token lives only as long as its job: without it, the recording is over.
            if case .record = mode, code == 4401 { throw CLIError("the recording's token is no longer good", code: "unauthorized") }
            // LiveClient tries again, pausing longer after each try that fails, up to a few seconds.
            if conn == nil { report.output.unreachable(identity.webSocketURL) } else { Output.error("disconnected; reconnecting") }
            conn = nil
            await dropAll()
        case .live(.event(let event)):
            try await received(event)
        case .live(.message):
            break
        case .peer(let event):
            await peerEvent(event)
        case .command(let line):
            try await command(line)
        case .tick:
            await tick()
        case .stop:
            done = true
        case .timeUp(let id):
            guard let meeting, meeting.id == id else { return }
            try? await live.leaveMeeting(id)
            report.ended(id, reason: "duration")
            try await endCall()
        case .mediaFailed(let message):
            guard message.contains("/peer-") else { throw CLIError("media: \(message)") }
            Output.error("media: \(message)")
        }
    }

    /// On every (re)connect: joins, or joins again with the new connection, what it was asked to attend.
    private func connected() async throws {
        if let meeting {
            try await join(meeting.id)
            return
        }
        switch mode {
        case .call(let room):
            try await join(try await live.startMeeting(room: room).id)
        case .join(let meeting), .record(let meeting):
            try await join(meeting)
        case .answer:
            // The rings of open meetings follow `hello`.
            break
        }
    }

    private func received(_ event: Event) async throws {
        switch event {
        case .meetingRinging(let call), .meetingActive(let call):
            // A ring, or a call already answered by another member: in a group, the others' rings turn into calls
            // going on, which they may still join.
            guard case .answer(let room, _) = mode, meeting == nil, room == nil || room == call.room, !attended.contains(call.id) else {
                return
            }
            report.ringing(call)
            try await join(call.id)
        case .meetingEnded(let ended, let reason) where ended.id == meeting?.id:
            report.ended(ended.id, reason: reason?.rawValue ?? ended.endReason?.rawValue ?? "ended")
            try await endCall()
        case .recordingStopped(let notice) where notice.meeting == meeting?.id:
            guard case .record = mode else { return }
            report.ended(notice.meeting, reason: "recording \(notice.reason?.rawValue ?? "stopped")")
            try await endCall()
        case .attendeeLeft(let change) where change.meeting == meeting?.id && change.attendee.conn == conn:
            // Taken out of the meeting: it ended, or this socket's node was taken for dead.
            report.ended(change.meeting, reason: "left")
            try await endCall()
        case .attendeeJoined(let change) where change.meeting == meeting?.id && change.attendee.conn != conn:
            if !change.attendee.isRecorder { others.insert(change.attendee.conn) }
            report.attendee(joined: true, change.attendee, username: username(change.attendee.user))
        case .attendeeLeft(let change) where change.meeting == meeting?.id:
            report.attendee(joined: false, change.attendee, username: username(change.attendee.user))
            await drop(change.attendee.conn)
            // The last of the others hung up: so does this peer, as a phone does, and the meeting ends.
            if others.remove(change.attendee.conn) != nil, others.isEmpty, let meeting {
                try? await live.leaveMeeting(meeting.id)
                report.ended(meeting.id, reason: "empty")
                try await endCall()
            }
        case .signal(let signal) where signal.meeting == meeting?.id:
            do {
                try await receive(signal)
            } catch {
                Output.error("the \(signal.kind.rawValue) from \(signal.from) failed: \(error)")
                await drop(signal.from)
            }
        case .error(let failure) where failure.error.code == .peerGone:
            if let peer = failure.peer { await drop(peer) }
        default:
            break
        }
    }

    private func command(_ line: String) async throws {
        let words = line.split(separator: " ").map(String.init)
        switch (words.first, words.dropFirst().first.flatMap(MediaKind.init(rawValue:))) {
        case ("leave", _):
            done = true
        case ("mute", let kind?), ("unmute", let kind?):
            guard media.available(kind) else {
                Output.error("no \(kind.rawValue) to send: it is --\(kind.rawValue) none")
                return
            }
            media.setSending(kind, words[0] == "unmute")
            let state = MediaState(audio: media.isSending(.audio), video: media.isSending(.video), screen: false)
            if let meeting { try await live.setMedia(meeting.id, state) }
            report.media(state)
        default:
            Output.error("unknown command \(line.debugDescription): mute|unmute audio|video, leave")
        }
    }

    // MARK: The meeting

    private func join(_ id: String) async throws {
        let joined: Meeting
        do {
            joined = try await live.joinMeeting(id, media: MediaState(audio: media.isSending(.audio), video: media.isSending(.video), screen: false))
        } catch let error as ParleyError where error.code == .meetingEnded && meeting != nil {
            // The meeting ended while this peer was away.
            return try await endCall()
        }
        meeting = (joined.id, joined.room)
        others = Set(joined.attendees.filter { !$0.isRecorder && $0.conn != conn }.map(\.conn))
        usernames.merge(await identity.usernames(in: joined.room)) { _, new in new }
        report.joined(joined, conn: conn ?? "")
        if let duration = settings.duration, timed.insert(joined.id).inserted {
            let input = self.input
            Task {
                try await Task.sleep(for: duration)
                input.yield(.timeUp(meeting: joined.id))
            }
        }
        for attendee in joined.attendees where attendee.conn != conn {
            do {
                try await offer(to: connect(attendee.conn, user: attendee.user))
            } catch {
                Output.error("cannot call \(attendee.conn): \(error)")
                await drop(attendee.conn)
            }
        }
    }

    /// The meeting ended: the next call for `answer`, otherwise the end.
    private func endCall() async throws {
        await dropAll()
        if let meeting { attended.insert(meeting.id) }
        meeting = nil
        others = []
        calls += 1
        if case .answer(_, let count) = mode, count == 0 || calls < count { return }
        done = true
    }

    /// Leaves the meeting, hangs up every peer (finishing the recordings and the composed file), and closes the
    /// socket.
    private func leave() async {
        if let meeting, conn != nil { try? await live.leaveMeeting(meeting.id) }
        meeting = nil
        await dropAll()
        if let composer { composed = await composer.finish() }
        await live.stop()
    }

    private func username(_ user: String) -> String { usernames[user] ?? user }

    // MARK: Peers

    /// A peer connection to an attendee: with this peer's payload types when it offers, with those of the offer when
    /// it answers one.
    private func connect(_ remote: String, user: String, offer: String? = nil) throws -> PeerLink {
        guard let conn else { throw CLIError("not connected") }
        let peer = try WebRTCPeer(
            conn: remote, user: user, username: username(user), polite: conn < remote, media: media, ice: ice,
            iceAddresses: settings.iceAddresses, record: settings.record, composer: composer, payloadTypes: offer.map(SDP.payloadTypes) ?? [:],
            events: peerEvents)
        let link = PeerLink(peer)
        peers[remote] = link
        return link
    }

    private var peerEvents: AsyncStream<PeerEvent>.Continuation {
        let input = self.input
        let (stream, continuation) = AsyncStream.makeStream(of: PeerEvent.self)
        Task {
            for await event in stream { input.yield(.peer(event)) }
        }
        return continuation
    }

    private func offer(to link: PeerLink, iceRestart: Bool = false) async throws {
        let sdp = try await link.peer.createOffer(iceRestart: iceRestart)
        try await link.peer.setDescription(local: true, .offer, sdp: sdp)
        link.mids = SDP.mids(in: sdp)
        link.awaitingAnswer = true
        await signal(link.peer.conn, .offer, ["type": .string("offer"), "sdp": .string(sdp)])
    }

    private func receive(_ signal: RelayedSignal) async throws {
        let payload = signal.payload ?? .null
        switch signal.kind {
        case .bye:
            await drop(signal.from)
        case .offer:
            guard let sdp = payload["sdp"].string else { return }
            var link = peers[signal.from]
            if let colliding = link, colliding.awaitingAnswer {
                // Both offered at once: the impolite side keeps its offer; the polite side gives its own up and
                // answers, on a peer connection begun again, as webrtcbin cannot roll back.
                colliding.ignoringOffer = !colliding.peer.polite
                if colliding.ignoringOffer { return }
                await drop(signal.from)
                link = nil
            }
            let answering = try link ?? connect(signal.from, user: signal.fromUser, offer: sdp)
            answering.ignoringOffer = false
            try await answering.peer.setDescription(local: false, .offer, sdp: sdp)
            remoteSet(answering)
            let answer = try await answering.peer.createAnswer()
            try await answering.peer.setDescription(local: true, .answer, sdp: answer)
            answering.mids = SDP.mids(in: answer)
            await self.signal(signal.from, .answer, ["type": .string("answer"), "sdp": .string(answer)])
        case .answer:
            guard let link = peers[signal.from], link.awaitingAnswer, let sdp = payload["sdp"].string else { return }
            try await link.peer.setDescription(local: false, .answer, sdp: sdp)
            link.awaitingAnswer = false
            remoteSet(link)
        case .candidate:
            guard let link = peers[signal.from], !link.ignoringOffer, let candidate = payload["candidate"].string, !candidate.isEmpty
            else { return }
            let mid = payload["sdpMid"].string
            let mline = payload["sdpMLineIndex"].integer.map(UInt32.init) ?? mid.flatMap { link.mids.firstIndex(of: $0) }.map(UInt32.init) ?? 0
            if link.remoteSet {
                link.peer.addCandidate(mline: mline, candidate)
            } else {
                link.pending.append((mline, candidate))
            }
        }
    }

    /// The remote description is set: the candidates held until now go to the ICE agent.
    private func remoteSet(_ link: PeerLink) {
        link.remoteSet = true
        for held in link.pending { link.peer.addCandidate(mline: held.mline, held.candidate) }
        link.pending = []
    }

    private func signal(_ to: String, _ kind: SignalKind, _ payload: [String: JSONValue]) async {
        guard let meeting else { return }
        do {
            try await live.signal(meeting.id, to: to, kind: kind, payload: .object(payload))
        } catch let error as ParleyError where error.code == .peerGone {
            await drop(to)
        } catch {
            Output.error("cannot signal \(to): \(error)")
        }
    }

    private func peerEvent(_ event: PeerEvent) async {
        switch event {
        case .candidate(let peer, let mline, let candidate):
            guard let link = current(peer) else { return }
            let mid: JSONValue = link.mids.indices.contains(Int(mline)) ? .string(link.mids[Int(mline)]) : .null
            await signal(peer.conn, .candidate, ["candidate": .string(candidate), "sdpMLineIndex": .int(Int64(mline)), "sdpMid": mid])
        case .gathered(let peer):
            guard current(peer) != nil else { return }
            await signal(peer.conn, .candidate, ["candidate": .string("")])
        case .iceState(let peer, let state):
            guard let link = current(peer), link.ice != state else { return }
            link.ice = state
            report.peer(peer, state: state)
            link.failedSince = state == .failed ? .now : nil
            if state.isConnected { peer.requestKeyFrame() }
            // The impolite side restarts ICE at once; the polite side gives it a moment first (see `tick`), so
            // that two restarts seldom cross.
            if state == .failed, !peer.polite { await restartIce(link) }
        case .firstFrame(let peer):
            guard current(peer) != nil else { return }
            report.firstFrame(peer)
        }
    }

    private func current(_ peer: WebRTCPeer) -> PeerLink? {
        guard let link = peers[peer.conn], link.peer === peer else { return nil }
        return link
    }

    private func restartIce(_ link: PeerLink) async {
        guard !link.awaitingAnswer else { return }
        do {
            try await offer(to: link, iceRestart: true)
        } catch {
            Output.error("cannot restart ICE with \(link.peer.conn): \(error)")
        }
    }

    private func tick() async {
        for link in peers.values {
            if let since = link.failedSince, link.peer.polite, since.duration(to: .now) > .seconds(3) {
                link.failedSince = .now
                await restartIce(link)
            }
            guard settings.stats else { continue }
            let counters = await link.peer.counters()
            let now = ContinuousClock.now
            report.stats(link.peer, ice: link.peer.iceState, counters, since: link.last.map { ($0.0, $0.1.duration(to: now)) })
            link.last = (counters, now)
        }
    }

    private func drop(_ remote: String) async {
        guard let link = peers.removeValue(forKey: remote) else { return }
        if let path = await link.peer.close() { report.recorded(link.peer, path: path) }
    }

    private func dropAll() async {
        for remote in Array(peers.keys) { await drop(remote) }
    }

    // MARK: Setting up

    /// SIGINT and SIGTERM leave the meeting and end the program, as the duration's end does.
    private static func stopOnSignals(_ input: AsyncStream<Input>.Continuation) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { input.yield(.stop) }
            source.resume()
            return source
        }
    }

    /// Standard input's lines, as commands; its end changes nothing, so a bot may run with no input at all.
    private static func readCommands(_ input: AsyncStream<Input>.Continuation) {
        Thread.detachNewThread {
            while let line = readLine() {
                let command = line.trimmingCharacters(in: .whitespaces)
                if !command.isEmpty { input.yield(.command(command)) }
            }
        }
    }
}
