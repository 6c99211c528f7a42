import Foundation
import Logging
import ParleyBus
import ParleyClient
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Synchronization
import Testing

@Suite(
    "Nothing lost across node deaths and Redis restarts",
    .enabled(if: TestCluster.enabled, "needs PARLEY_TEST_DATABASE_URL and redis-server: run scripts/test"), .serialized)
struct ClusterResilienceTests {
    @Test("a message committed but never published (the publisher died in between) is delivered by the outbox relay")
    func outboxRelay() async throws {
        try await TestCluster.with(ws: 1) { cluster in
            let pair = try await LivePair.make(api: cluster.http("api-1"), ws: [cluster.ws("ws-1")])
            try await withLive([pair.bob]) {
                _ = try await pair.bob.connected()
                try await pair.bob.follow(pair.room)
                // Commit through the store alone, as a node that died right after its commit would have left it.
                let store = try SQLStore.postgres(url: cluster.databaseURL, logger: Logger(label: "test"))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await store.run() }
                    defer { group.cancelAll() }
                    let me = try #require(pair.alice.rest.currentSession?.user.id)
                    _ = try await store.send(room: pair.room, sender: me, clientId: UUID().uuidString, text: "orphaned")
                }
                #expect(try await pair.bob.nextMessages(1, within: 15).map(\.text) == ["orphaned"])
            }
        }
    }

    @Test("a WS node killed with SIGKILL: its clients reconnect to the other node and lose nothing; its users go offline within 15 s")
    func nodeDeath() async throws {
        try await TestCluster.with { cluster in
            let pair = try await LivePair.make(
                api: cluster.http("api-1"), ws: [cluster.ws("ws-1"), cluster.ws("ws-2")], wsForBob: [cluster.ws("ws-2")])
            // Carol can reach only ws-1, so once it dies she stays away, and Bob should see her offline.
            let carolRest = ParleyClient(baseURL: cluster.http("api-1"))
            let carolName = "carol\(UUID().uuidString.prefix(6).lowercased())"
            let carolUser = try await carolRest.register(username: carolName, password: "password123", name: "Carol").user
            let carolRoom = try await pair.bob.rest.addContact(username: carolName).room
            let carol = LiveClient(rest: carolRest, urls: [cluster.ws("ws-1")])

            try await withLive([pair.bob]) {
                _ = try await pair.bob.connected()
                try await pair.bob.follow(pair.room)
                try await pair.bob.follow(carolRoom)
                try await withLive([pair.alice, carol]) {
                    #expect(try await pair.alice.connected() == "ws-1")
                    #expect(try await carol.connected() == "ws-1")
                    try await pair.alice.follow(pair.room)
                    try await pair.bob.waitForPresence(of: carolUser.id, online: true)

                    for n in 1...5 { try await pair.bob.rest.send(room: pair.room, text: "before \(n)") }
                    _ = try await pair.alice.nextMessages(5)
                    await cluster.kill("ws-1")
                    let killedAt = ContinuousClock.now
                    for n in 1...20 { try await pair.bob.rest.send(room: pair.room, text: "during \(n)") }
                    #expect(try await pair.alice.connected() == "ws-2")
                    let caughtUp = try await pair.alice.nextMessages(20)
                    #expect(caughtUp.map(\.seq) == Array(6...25))
                    print("node death: client reconnected and caught up \(ContinuousClock.now - killedAt) after the kill")
                    try await pair.bob.rest.send(room: pair.room, text: "after")
                    #expect(try await pair.alice.nextMessages(1).map(\.seq) == [26])

                    try await pair.bob.waitForPresence(of: carolUser.id, online: false, within: 15)
                    #expect(ContinuousClock.now - killedAt < .seconds(15))
                    print("node death: its user shown offline \(ContinuousClock.now - killedAt) after the kill")
                }
            }
        }
    }

    @Test("SIGTERM drains a WS node: its sockets close with 1012, its clients move at once, nothing is lost, it exits 0")
    func gracefulDrain() async throws {
        try await TestCluster.with { cluster in
            let pair = try await LivePair.make(
                api: cluster.http("api-1"), ws: [cluster.ws("ws-1"), cluster.ws("ws-2")], wsForBob: [cluster.ws("ws-2")])
            try await withLive([pair.alice, pair.bob]) {
                #expect(try await pair.alice.connected() == "ws-1")
                _ = try await pair.bob.connected()
                try await pair.alice.follow(pair.room)
                try await pair.bob.follow(pair.room)
                let node = try #require(cluster.nodes["ws-1"])
                // Bob keeps sending while Alice's node drains and stops: paced, so that the sends span the drain.
                let sent = Counter()
                async let sends: [Int64] = (1...40).asyncMap { n in
                    try await Task.sleep(for: .milliseconds(25))
                    let seq = try await pair.bob.send(room: pair.room, text: "m\(n)").seq
                    sent.add()
                    return seq
                }
                try await waitUntil("Bob's first sends are acknowledged") { sent.count >= 10 }
                let stoppedAt = ContinuousClock.now
                async let exit = node.terminate()
                // One pass over Alice's events sees the close, the reconnect and every message.
                let seen = Seen()
                _ = try await pair.alice.next(within: 30) { event -> Bool? in seen.record(event) ? true : nil }
                #expect(seen.closeCodes == [CloseCode.serviceRestart])
                #expect(seen.nodes == ["ws-2"])
                print("drain: client back on another node \(seen.reconnectedAt! - stoppedAt) after SIGTERM")
                #expect(try await exit == 0)
                let acknowledged = try await sends
                #expect(acknowledged == Array(1...40))
                #expect(seen.seqs == acknowledged)
            }
        }
    }

    @Test("Redis restarted in the middle of a stream of sends: every acknowledged message reaches the other member once, in order")
    func redisRestart() async throws {
        try await TestCluster.with { cluster in
            let pair = try await LivePair.make(api: cluster.http("api-1"), ws: [cluster.ws("ws-1")], wsForBob: [cluster.ws("ws-2")])
            try await withLive([pair.alice, pair.bob]) {
                _ = try await pair.alice.connected()
                _ = try await pair.bob.connected()
                try await pair.alice.follow(pair.room)
                try await pair.bob.follow(pair.room)
                var acknowledged: [Int64] = []
                for n in 1...60 {
                    if n == 20 { await cluster.redis.kill() }
                    if n == 35 { try await cluster.redis.start() }
                    acknowledged.append(try await pair.alice.send(room: pair.room, text: "m\(n)").seq)
                    // Paced, so that the restart falls in the middle of a stream of sends.
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(acknowledged == Array(1...60))
                let received = try await pair.bob.nextMessages(60, within: 30)
                #expect(received.map(\.seq) == acknowledged)
                #expect(received.map(\.text) == (1...60).map { "m\($0)" })

                // Redis came back empty: the nodes notice their lapsed beats and record their users online again.
                let bus = try RedisBus(url: cluster.redis.url, logger: Logger(label: "test"))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await bus.run() }
                    defer { group.cancelAll() }
                    let users = [pair.alice.rest.currentSession!.user.id, pair.bob.rest.currentSession!.user.id]
                    try await waitUntil("the nodes record Alice and Bob online again after the Redis restart", within: .seconds(15)) {
                        (try? await bus.online(users)) == Set(users)
                    }
                }
            }
        }
    }
}

extension LiveClient {
    /// Waits for a `presence` frame about `user`.
    func waitForPresence(of user: String, online: Bool, within seconds: Double = 20) async throws {
        _ = try await next(within: seconds) { event -> Bool? in
            guard case .event(.presence(_, user, online)) = event else { return nil }
            return true
        }
    }
}

extension ClosedRange<Int> {
    /// Runs `transform` on each element in order, one after the other.
    func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// A count that tasks add to while the test reads it.
final class Counter: Sendable {
    private let value = Atomic(0)
    func add() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// What a client's events showed, recorded in one pass: the close codes, the nodes it reconnected to, and the seqs.
final class Seen: Sendable {
    private struct State {
        var closeCodes: [UInt16?] = []
        var nodes: [String] = []
        var seqs: [Int64] = []
        var reconnectedAt: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    var closeCodes: [UInt16?] { state.withLock { $0.closeCodes } }
    var nodes: [String] { state.withLock { $0.nodes } }
    var seqs: [Int64] { state.withLock { $0.seqs } }
    var reconnectedAt: ContinuousClock.Instant? { state.withLock { $0.reconnectedAt } }

    /// Records an event; true once a reconnect and 40 messages were seen.
    func record(_ event: LiveEvent) -> Bool {
        state.withLock { state in
            switch event {
            case .disconnected(let code): state.closeCodes.append(code)
            case .connected(_, let node):
                state.nodes.append(node)
                state.reconnectedAt = .now
            case .message(let message): state.seqs.append(message.seq)
            default: break
            }
            return !state.nodes.isEmpty && state.seqs.count >= 40
        }
    }
}
