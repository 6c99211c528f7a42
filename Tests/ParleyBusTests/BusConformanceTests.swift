import Foundation
import Logging
import NIOCore
import ParleyBus
import ParleyTestSupport
import Synchronization
import Testing

/// The buses under test: the in-process one, Redis at `PARLEY_TEST_REDIS_URL`, and the Redis Cluster at
/// `PARLEY_TEST_REDIS_CLUSTER` (scripts/test sets both; without them those cases are skipped and say so).
enum BusKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local
    case redis
    case cluster

    var testDescription: String { rawValue }

    func make() throws -> any Bus {
        switch self {
        case .local: LocalBus()
        case .redis: try RedisBus(url: try TestServers.redis.require(), logger: Logger(label: "test"))
        case .cluster: RedisBus(cluster: try RedisEndpoint.cluster(try TestServers.redisCluster.require()), logger: Logger(label: "test"))
        }
    }
}

/// Runs `body` with `bus` running, and stops it afterwards.
func withRunning<R: Sendable>(_ bus: any Bus, _ body: (any Bus) async throws -> R) async throws -> R {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await bus.run() }
        defer { group.cancelAll() }
        return try await body(bus)
    }
}

/// Publishes until the bus takes it: right after start-up the Redis bus may still be connecting.
func publishWhenReady(
    _ bus: any Bus, _ text: String, to channel: String, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    var refusal: (any Error)?
    try await waitUntil(
        "the bus takes a publish (last refused with: \(refusal.map(String.init(describing:)) ?? "nothing"))", sourceLocation: sourceLocation
    ) {
        do {
            try await bus.publish(ByteBuffer(string: text), to: channel)
            return true
        } catch {
            refusal = error
            return false
        }
    }
}

@Suite("Bus conformance")
struct BusConformanceTests {
    @Test("a subscription receives its channels' messages in publish order, and none published after unsubscribing", arguments: BusKind.allCases)
    func subscribeAndUnsubscribe(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let prefix = "parley:test:\(UUID().uuidString):"
            try await publishWhenReady(bus, "warm-up", to: prefix + "none")
            try await bus.withSubscription { subscription in
                let deliveries = Deliveries(subscription)
                try await subscription.subscribe([prefix + "a", prefix + "b"])
                for n in 1...3 {
                    try await bus.publish(ByteBuffer(string: "a\(n)"), to: prefix + "a")
                }
                try await bus.publish(ByteBuffer(string: "elsewhere"), to: prefix + "c")
                try await bus.publish(ByteBuffer(string: "b1"), to: prefix + "b")
                // In publish order per channel: on a cluster, channels on different shards arrive apart.
                let received = await deliveries.nextMessages(4)
                #expect(received.filter { $0.hasPrefix("a=") } == ["a=a1", "a=a2", "a=a3"] && received.filter { $0.hasPrefix("b=") } == ["b=b1"])

                try await subscription.unsubscribe([prefix + "a"])
                try await bus.publish(ByteBuffer(string: "a4"), to: prefix + "a")
                try await bus.publish(ByteBuffer(string: "b2"), to: prefix + "b")
                #expect(await deliveries.nextMessages(1) == ["b=b2"])
            }
        }
    }

    @Test("a subscription that takes its deliveries in a closure gets them there, in publish order", arguments: BusKind.allCases)
    func receiveInAClosure(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let channel = "parley:test:\(UUID().uuidString)"
            try await publishWhenReady(bus, "warm-up", to: channel + ":none")
            let received = Mutex<[String]>([])
            try await bus.withSubscription(receive: { delivery in
                if case .message(let message) = delivery { received.withLock { $0.append(String(buffer: message.payload)) } }
            }) { subscription in
                try await subscription.subscribe([channel])
                for n in 1...50 { try await bus.publish(ByteBuffer(string: "m\(n)"), to: channel) }
                try await waitUntil("50 messages are received") { received.withLock { $0.count } >= 50 }
                #expect(received.withLock { $0 } == (1...50).map { "m\($0)" })
            }
        }
    }

    @Test("publishes that call back keep their order, and each reports how many subscriptions received it", arguments: BusKind.allCases)
    func publishThen(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let channel = "parley:test:\(UUID().uuidString)"
            try await publishWhenReady(bus, "warm-up", to: channel + ":none")
            try await bus.withSubscription { subscription in
                let deliveries = Deliveries(subscription)
                try await subscription.subscribe([channel])
                // Reports in publish order per channel; on a cluster, channels on different shards report apart.
                let reports = Mutex<[(n: Int, receivers: Int)]>([])
                for n in 1...20 {
                    bus.publish(ByteBuffer(string: "m\(n)"), to: n.isMultiple(of: 5) ? channel + ":nobody" : channel) { result in
                        reports.withLock { $0.append((n, (try? result.get()) ?? -1)) }
                    }
                }
                try await bus.publish(ByteBuffer(string: "last"), to: channel)
                #expect(
                    await deliveries.nextMessages(17).map { $0.split(separator: "=").last.map(String.init) ?? "" }
                        == (1...20).filter { !$0.isMultiple(of: 5) }.map { "m\($0)" } + ["last"])
                try await waitUntil("20 publishes report") { reports.withLock { $0.count } >= 20 }
                let reported = reports.withLock { $0 }
                #expect(reported.map(\.n).filter { !$0.isMultiple(of: 5) } == (1...20).filter { !$0.isMultiple(of: 5) })
                #expect(reported.map(\.n).filter { $0.isMultiple(of: 5) } == [5, 10, 15, 20])
                #expect(reported.sorted { $0.n < $1.n }.map(\.receivers) == (1...20).map { $0.isMultiple(of: 5) ? 0 : 1 })
            }
        }
    }

    @Test("every subscription to a channel gets each message, and one leaving keeps the other subscribed", arguments: BusKind.allCases)
    func fanOut(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let user = UUID().uuidString
            try await publishWhenReady(bus, "warm-up", to: "parley:user:none")
            try await bus.withSubscription { first in
                let firstDeliveries = Deliveries(first)
                try await first.subscribe(["parley:user:" + user])
                try await bus.withSubscription { second in
                    let secondDeliveries = Deliveries(second)
                    try await second.subscribe(["parley:user:" + user])
                    try await bus.publish(ByteBuffer(string: "hello"), to: "parley:user:" + user)
                    #expect(await secondDeliveries.nextMessages(1) == ["\(user)=hello"])
                }
                #expect(await firstDeliveries.nextMessages(1) == ["\(user)=hello"])
                try await bus.publish(ByteBuffer(string: "still here"), to: "parley:user:" + user)
                #expect(await firstDeliveries.nextMessages(1) == ["\(user)=still here"])
            }
        }
    }

    @Test("many subscribes at once each return, confirmed, however their confirmations race them", arguments: BusKind.allCases)
    func concurrentSubscribes(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let prefix = "parley:user:\(UUID().uuidString):"
            try await publishWhenReady(bus, "warm-up", to: prefix + "none")
            try await bus.withSubscription { subscription in
                // A confirmation may come before its caller waits for it: it must be kept for the caller, or the caller hangs.
                let subscribed = try await withThrowingTaskGroup(of: Int.self) { group in
                    for n in 0..<2000 {
                        group.addTask {
                            try await subscription.subscribe([prefix + "\(n)"])
                            return 1
                        }
                    }
                    // The bound of the wait for the subscribes, not a wait itself.
                    group.addTask {
                        try await Task.sleep(for: .seconds(20))
                        throw CancellationError()
                    }
                    var count = 0
                    while count < 2000, let done = try await group.next() { count += done }
                    group.cancelAll()
                    return count
                }
                #expect(subscribed == 2000)
                #expect(try await bus.publish(ByteBuffer(string: "last"), to: prefix + "1999") == 1)
            }
        }
    }

    @Test("a publish counts its receivers, so that a node channel nobody holds is known to be gone", arguments: BusKind.allCases)
    func receivers(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let channel = "parley:node:\(UUID().uuidString)"
            try await publishWhenReady(bus, "warm-up", to: channel + ":none")
            #expect(try await bus.publish(ByteBuffer(string: "nobody"), to: channel) == 0)
            try await bus.withSubscription { subscription in
                try await subscription.subscribe([channel])
                #expect(try await bus.publish(ByteBuffer(string: "someone"), to: channel) == 1)
            }
        }
    }

    @Test("a node is alive while its heartbeat lasts, and a beat says whether the one before had lapsed", arguments: BusKind.allCases)
    func heartbeats(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let node = "n_\(UUID().uuidString.prefix(8))"
            try await publishWhenReady(bus, "warm-up", to: "parley:test:none")
            #expect(try await !bus.isAlive(node: node))
            // Long enough that a loaded machine cannot let it lapse between these calls.
            #expect(try await !bus.heartbeat(node: node, ttl: .seconds(10)))
            #expect(try await bus.isAlive(node: node))
            #expect(try await bus.heartbeat(node: node, ttl: .milliseconds(300)))
            try await waitUntil("the 300 ms beat lapses") { try await !bus.isAlive(node: node) }
            // A beat after a lapse says so: the node records its users again.
            #expect(try await !bus.heartbeat(node: node, ttl: .milliseconds(300)))
        }
    }

    @Test(
        "a user is online while a live node holds them, and their return is no news while any other node, live or dead and unclaimed, holds them",
        arguments: BusKind.allCases)
    func onlineAcrossNodes(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let (first, second, user) = ("n_\(UUID().uuidString.prefix(8))", "n_\(UUID().uuidString.prefix(8))", "u_\(UUID().uuidString)")
            try await publishWhenReady(bus, "warm-up", to: "parley:test:none")
            try await bus.heartbeat(node: first, ttl: .seconds(10))
            try await bus.heartbeat(node: second, ttl: .seconds(10))
            #expect(try await !bus.recordOnline(user: user, node: first))
            #expect(try await bus.isOnline(user: user))
            #expect(try await bus.recordOnline(user: user, node: second))
            #expect(try await bus.recordOffline(user: user, node: second), "still online on the first node")
            #expect(try await !bus.recordOffline(user: user, node: first))
            #expect(try await !bus.isOnline(user: user))
            guard kind == .redis else { return }
            // The first node dies holding the user: offline at once, but not announced so until a survivor claims
            // the node, so a return to the second node before then is no news.
            _ = try await bus.recordOnline(user: user, node: first)
            try await bus.heartbeat(node: first, ttl: .milliseconds(300))
            try await waitUntil("the first node's 300 ms beat lapses") { try await !bus.isAlive(node: first) }
            #expect(try await !bus.isOnline(user: user))
            #expect(try await bus.recordOnline(user: user, node: second))
            #expect(try await bus.claimDeadNode(first) == [user])
            #expect(try await bus.isOnline(user: user))
            #expect(try await !bus.recordOffline(user: user, node: second))
            // Claimed: the user was announced offline, and coming back is news.
            #expect(try await !bus.recordOnline(user: user, node: second))
        }
    }

    @Test("many users recorded at once: each is news or not as they would be alone", arguments: BusKind.allCases)
    func manyUsersAtOnce(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let (first, second) = ("n_\(UUID().uuidString.prefix(8))", "n_\(UUID().uuidString.prefix(8))")
            let users = (0..<6).map { "u_\($0)_\(UUID().uuidString)" }
            try await publishWhenReady(bus, "warm-up", to: "parley:test:none")
            try await bus.heartbeat(node: first, ttl: .seconds(10))
            try await bus.heartbeat(node: second, ttl: .seconds(10))
            #expect(try await bus.recordOnline(users: [users[0], users[1]], node: first) == [users[0], users[1]])
            // Users 0 and 1 are held by the first node: no news on the second; the rest are.
            #expect(try await Set(bus.recordOnline(users: users, node: second)) == Set(users[2...]))
            #expect(try await bus.recordOnline(users: [], node: second) == [])
            // Off the second node: users 0 and 1 stay online on the first.
            #expect(try await Set(bus.recordOffline(users: users, node: second)) == Set(users[2...]))
            #expect(try await Set(bus.recordOffline(users: [users[0], users[1]], node: first)) == [users[0], users[1]])
            for user in users { #expect(try await !bus.isOnline(user: user)) }
        }
    }

    @Test("counters count per key within their window, locks lapse, and a reset forgets both", arguments: BusKind.allCases)
    func counters(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            try await publishWhenReady(bus, "warm-up", to: "parley:test:none")
            let (a, b) = ("parley:test:\(UUID().uuidString):a", "parley:test:\(UUID().uuidString):b")
            #expect(try await bus.count([a], window: .seconds(60)).map(\.count) == [1])
            let counted = try await bus.count([a, b], window: .seconds(60))
            #expect(counted.map(\.count) == [2, 1])
            #expect(counted.allSatisfy { $0.remaining > .seconds(50) && $0.remaining <= .seconds(60) })
            let short = try await bus.count([b], window: .milliseconds(200))
            #expect(short[0].count == 2 && short[0].remaining > .seconds(50), "the window is set by the key's first count")
            try await bus.lock([(a + ":lock", .seconds(30)), (b + ":lapsing", .milliseconds(100))])
            let locked = try await bus.locked([a + ":lock", b + ":lock"])
            #expect(locked[0].map { $0 > .seconds(20) && $0 <= .seconds(30) } == true && locked[1] == nil, "\(locked)")
            // Lapsing is time: the 100 ms lock is waited out, and so is the 100 ms window below.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await bus.locked([b + ":lapsing"]) == [nil])
            #expect(try await bus.acquire(b + ":held", for: .seconds(30)))
            #expect(try await !bus.acquire(b + ":held", for: .seconds(30)), "a held lock is not taken twice")
            let brief = "parley:test:\(UUID().uuidString):brief"
            _ = try await bus.count([brief], window: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await bus.count([brief], window: .milliseconds(100)).map(\.count) == [1], "a lapsed window starts again")
            try await bus.reset([a, b])
            #expect(try await bus.count([a, b], window: .seconds(60)).map(\.count) == [1, 1])
        }
    }

    @Test("payloads are binary-safe", arguments: BusKind.allCases)
    func binaryPayloads(kind: BusKind) async throws {
        try await withRunning(try kind.make()) { bus in
            let channel = "parley:room:\(UUID().uuidString)"
            try await publishWhenReady(bus, "warm-up", to: channel + ":none")
            try await bus.withSubscription { subscription in
                try await subscription.subscribe([channel])
                let payload = ByteBuffer(bytes: [0, 13, 10, 36, 42, 255] + Array("\r\n*1\r\n".utf8) + [UInt8](repeating: 7, count: 70_000))
                try await bus.publish(payload, to: channel)
                guard case .message(let message) = await Deliveries(subscription).next() else {
                    Issue.record("no message")
                    return
                }
                #expect(message.payload == payload)
            }
        }
    }
}
