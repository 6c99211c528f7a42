import ArgumentParser
import Foundation
import Logging
import ParleyBus
import ParleyClient
import ParleyCore
import Synchronization

/// The chaos test: clients in rooms of different sizes send at a steady rate through the load balancer while WS
/// nodes are killed and restarted, an API node is killed once and Redis restarted once (on a Redis Cluster, a master
/// killed and slots moved), and members join and leave
/// a meeting. Then it checks that every acknowledged message is stored once and reached every member once and in
/// order, that presence matches the live connections, and that no meeting or attendee of a dead connection remains.
/// It is bounded: it stops by itself after `--seconds` and its checks' own time limits.
@main
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "parley-chaos", abstract: "Kill nodes under load and prove nothing is lost.")

    @Option(help: "The load balancer, http://host:port.") var url: String
    @Option(help: "scripts/cluster, which runs the cluster.") var cluster = "scripts/cluster"
    @Option(help: "The cluster's folder (PARLEY_CLUSTER_DIR).") var clusterDir = ".cluster"
    @Option(help: "How long the faults and the load last.") var seconds = 120
    @Option(help: "Simulated users, each with one connection.") var clients = 100
    @Option(help: "Seconds between one client's sends.") var interval = 2.0
    @Option(help: "Seconds between WS node kills.") var killEvery = 6.0
    @Option(help: "Write the results as Markdown to this file.") var report: String?
    @Option(help: "The command to show in the report.") var command: String?

    func run() async throws {
        guard clients >= 10, seconds >= 20 else { throw ValidationError("at least 10 clients and 20 seconds") }
        var logger = Logger(label: "chaos")
        logger.logLevel = .warning
        let control = ClusterControl(script: cluster, folder: clusterDir)
        let wsNodes = try control.nodes(role: "ws")
        let apiNodes = try control.nodes(role: "api")
        let started = Date()
        say("chaos: \(clients) clients, \(seconds) s, \(wsNodes.count) WS and \(apiNodes.count) API nodes behind \(url)")

        let population = try await Population.make(clients: clients, url: url, logger: logger)
        say("signed up \(clients) users in \(population.rooms.count) rooms (sizes \(Set(population.rooms.map(\.count)).sorted()))")
        let runs = population.clients.map { client in Task { await client.live.run(reconnectDelay: .milliseconds(100)) } }
        let watchers = population.clients.map { client in Task { await client.watch() } }
        defer {
            runs.forEach { $0.cancel() }
            watchers.forEach { $0.cancel() }
        }
        try await waitUntil("every client connected", within: 60) { population.clients.allSatisfy { $0.conn != nil } }

        let deadline = ContinuousClock.now + .seconds(seconds)
        let faults = Faults(control: control, wsNodes: wsNodes, apiNodes: apiNodes, redisCluster: try control.setting("REDIS_CLUSTER") != nil)
        // The first room of ten holds clients 0…9: they join and leave its meeting.
        let meeting = MeetingDriver(members: Array(population.clients[0..<10]), room: population.roomIds[Array(0..<10)]!)
        say("load and faults for \(seconds) s…")
        await withTaskGroup(of: Void.self) { group in
            for client in population.clients {
                group.addTask { await client.send(every: .seconds(interval), until: deadline) }
            }
            group.addTask { await faults.run(until: deadline, killEvery: .seconds(killEvery)) }
            group.addTask { await meeting.run(until: deadline) }
            group.addTask { await progress(population, until: deadline) }
        }
        say("faults over: \(faults.summary); waiting for every client to catch up")

        var findings = Findings()
        try await findings.checkMessages(population)
        try await findings.checkMeeting(meeting, population)
        try await findings.checkPresence(population, bus: try control.bus(logger: logger))
        findings.recoveries = faults.recoveryTimes(population.clients)

        let result = findings.summary(clients: clients, faults: faults)
        say(result.table)
        say("JSON " + result.json)
        if let report {
            try result.markdown(command: command ?? CommandLine.arguments.joined(separator: " "), started: started, seconds: seconds)
                .write(toFile: report, atomically: true, encoding: .utf8)
            say("wrote \(report)")
        }
        guard result.passed else { throw ExitCode.failure }
    }
}

/// Progress on standard output, unbuffered.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Waits until `condition` holds, checking every 100 ms; throws after `seconds`.
func waitUntil(_ what: String, within seconds: Double, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw ChaosError("timed out after \(seconds) s waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}

private func progress(_ population: Population, until deadline: ContinuousClock.Instant) async {
    while ContinuousClock.now < deadline {
        try? await Task.sleep(for: .seconds(10))
        let sent = population.clients.reduce(0) { $0 + $1.sent }
        let acknowledged = population.clients.reduce(0) { $0 + $1.acks.count }
        let connected = population.clients.filter { $0.conn != nil }.count
        say("  sent \(sent), acknowledged \(acknowledged), connected \(connected)/\(population.clients.count)")
    }
}

/// The users, their rooms and their clients.
struct Population: Sendable {
    let clients: [ChaosClient]
    /// Each room as the indexes of its members.
    let rooms: [[Int]]
    let roomIds: [[Int]: String]

    /// Rooms of different sizes: pairs, fives, tens (every client is in one) and one room of every third client.
    static func plan(_ count: Int) -> [[Int]] {
        var rooms: [[Int]] = []
        let pairs = count * 2 / 5
        for first in stride(from: 0, to: pairs - 1, by: 2) { rooms.append([first, first + 1]) }
        for first in stride(from: pairs, to: count - 4, by: 5) { rooms.append(Array(first..<first + 5)) }
        for first in stride(from: 0, to: count, by: 10) { rooms.append(Array(first..<min(first + 10, count))) }
        rooms.append(Array(stride(from: 0, to: count, by: 3)))
        return rooms.filter { $0.count >= 2 }
    }

    static func make(clients count: Int, url: String, logger: Logger) async throws -> Population {
        let run = UUID().uuidString.prefix(6).lowercased()
        let rests = try await withThrowingTaskGroup(of: (Int, ParleyClient).self) { group in
            var made: [Int: ParleyClient] = [:]
            for index in 0..<count {
                // A few sign-ups at a time: bcrypt runs on the API nodes' two cores.
                if index >= 8, let (done, client) = try await group.next() { made[done] = client }
                group.addTask {
                    let rest = ParleyClient(baseURL: url)
                    try await rest.register(username: "chaos\(run)u\(index)", password: "password123", name: "User \(index)")
                    return (index, rest)
                }
            }
            for try await (index, client) in group { made[index] = client }
            return (0..<count).map { made[$0]! }
        }
        let users = rests.map { $0.currentSession!.user.id }
        var roomIds: [[Int]: String] = [:]
        let rooms = plan(count)
        for members in rooms {
            let detail = try await rests[members[0]].createGroup(name: "Room of \(members.count)", members: members.dropFirst().map { users[$0] })
            roomIds[members] = detail.room.id
        }
        let webSocket = url.replacingOccurrences(of: "http://", with: "ws://") + "/ws"
        var clients: [ChaosClient] = []
        for index in 0..<count {
            let mine = rooms.filter { $0.contains(index) }.map { roomIds[$0]! }
            let live = LiveClient(rest: rests[index], urls: [webSocket], logger: logger)
            for room in mine { try await live.follow(room, since: 0) }
            clients.append(ChaosClient(index: index, live: live, rooms: mine, userId: users[index]))
        }
        return Population(clients: clients, rooms: rooms, roomIds: roomIds)
    }
}

/// The faults: a WS node killed every few seconds and restarted two seconds later, an API node killed once, and
/// Redis restarted once, or on a Redis Cluster a master killed once and slots moved once.
final class Faults: Sendable {
    struct Kill: Sendable {
        let node: String
        let at: ContinuousClock.Instant
    }

    let control: ClusterControl
    let wsNodes: [String]
    let apiNodes: [String]
    /// On a Redis Cluster, a master is killed (its replica takes over) and slots are moved, instead of a Redis
    /// restart.
    let redisCluster: Bool
    private let kills = Mutex<[Kill]>([])
    private let counts = Mutex<(api: Int, redis: Int, reshards: Int, failures: [String])>((0, 0, 0, []))

    init(control: ClusterControl, wsNodes: [String], apiNodes: [String], redisCluster: Bool) {
        self.control = control
        self.wsNodes = wsNodes
        self.apiNodes = apiNodes
        self.redisCluster = redisCluster
    }

    var wsKills: [Kill] { kills.withLock { $0 } }
    var apiKills: Int { counts.withLock { $0.api } }
    var redisRestarts: Int { counts.withLock { $0.redis } }
    var failures: [String] { counts.withLock { $0.failures } }
    var reshards: Int { counts.withLock { $0.reshards } }
    var summary: String {
        "\(wsKills.count) WS kills, \(apiKills) API kill, "
            + (redisCluster ? "\(redisRestarts) Redis master kill, \(reshards) reshard" : "\(redisRestarts) Redis restart")
    }

    func run(until deadline: ContinuousClock.Instant, killEvery: Duration) async {
        let start = ContinuousClock.now
        let total = deadline - start
        var apiDone = false
        var redisDone = false
        var reshardDone = !redisCluster
        try? await Task.sleep(for: killEvery / 2)
        while ContinuousClock.now + .seconds(3) < deadline {
            let elapsed = ContinuousClock.now - start
            if !apiDone, elapsed > total / 3, let api = apiNodes.randomElement() {
                apiDone = true
                await attempt("kill \(api)") {
                    try await control.kill(api)
                    counts.withLock { $0.api += 1 }
                }
                try? await Task.sleep(for: .seconds(3))
                await attempt("restart \(api)") { try await control.restart(api) }
                continue
            }
            if !redisDone, elapsed > total / 2 {
                redisDone = true
                await redisFault(killEvery: killEvery)
                continue
            }
            if !reshardDone, elapsed > total * 2 / 3 {
                reshardDone = true
                await attempt("reshard") {
                    try await control.reshard(1000)
                    counts.withLock { $0.reshards += 1 }
                }
                say("  moved 1000 slots")
                continue
            }
            let node = wsNodes.randomElement()!
            await attempt("kill \(node)") {
                try await control.kill(node)
                kills.withLock { $0.append(Kill(node: node, at: .now)) }
            }
            say("  killed \(node)")
            try? await Task.sleep(for: .seconds(2))
            await attempt("restart \(node)") { try await control.restart(node) }
            try? await Task.sleep(for: killEvery - .seconds(2))
        }
    }

    /// One Redis restarted; or a Redis Cluster's master killed, left dead until its replica has taken over, and
    /// started again, to rejoin as a replica.
    private func redisFault(killEvery: Duration) async {
        guard redisCluster else {
            await attempt("restart redis") {
                try await control.restart("redis")
                counts.withLock { $0.redis += 1 }
            }
            try? await Task.sleep(for: killEvery / 2)
            return
        }
        var master: String?
        await attempt("kill a Redis master") {
            master = try await control.kill("redis-master")
            counts.withLock { $0.redis += 1 }
        }
        say("  killed \(master ?? "no") Redis master")
        try? await Task.sleep(for: .seconds(6))
        if let master { await attempt("restart \(master)") { try await control.restart(master) } }
    }

    private func attempt(_ what: String, _ body: () async throws -> Void) async {
        do { try await body() } catch { counts.withLock { $0.failures.append("\(what): \(error)") } }
    }

    /// For each client that was on a killed node, the time from the kill until it was back on another node with
    /// every room replayed.
    func recoveryTimes(_ clients: [ChaosClient]) -> [Double] {
        var times: [Double] = []
        let kills = wsKills
        for (index, kill) in kills.enumerated() {
            let next = index + 1 < kills.count ? kills[index + 1].at : ContinuousClock.now
            for client in clients {
                for recovery in client.recoveries where recovery.node == kill.node && recovery.lostAt >= kill.at && recovery.lostAt < next {
                    times.append((recovery.caughtUpAt - kill.at).inSeconds)
                }
            }
        }
        return times
    }
}

/// Members of one room joining and leaving its meeting while nodes die.
final class MeetingDriver: Sendable {
    let members: [ChaosClient]
    let room: String
    /// Which member attends, with the connection it joined on: a reconnect leaves the meeting.
    private let attending = Mutex<[Int: String]>([:])
    private let meetingId = Mutex<String?>(nil)
    private let moves = Atomic<Int>(0)

    init(members: [ChaosClient], room: String) {
        self.members = members
        self.room = room
    }

    var meeting: String? { meetingId.withLock { $0 } }
    var joinsAndLeaves: Int { moves.load(ordering: .relaxed) }

    /// The members attending now, on their current connections.
    var attendees: [ChaosClient] {
        attending.withLock { attending in members.filter { member in member.conn != nil && attending[member.index] == member.conn } }
    }

    func run(until deadline: ContinuousClock.Instant) async {
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .seconds(2))
            let member = members.randomElement()!
            do {
                if attendees.contains(where: { $0 === member }) {
                    attending.withLock { $0[member.index] = nil }
                    try await member.live.leaveMeeting(meeting!)
                } else {
                    let meeting = try await member.live.startMeeting(room: room)
                    meetingId.withLock { $0 = meeting.id }
                    let conn = member.conn
                    try await member.live.joinMeeting(meeting.id)
                    attending.withLock { $0[member.index] = conn }
                }
                moves.add(1, ordering: .relaxed)
            } catch {
                // A join or leave cut off by a kill; the check at the end sees what remained.
            }
        }
    }

    /// Everyone still attending leaves.
    func leaveAll() async {
        guard let meeting else { return }
        for member in attendees { try? await member.live.leaveMeeting(meeting) }
        attending.withLock { $0.removeAll() }
    }
}
