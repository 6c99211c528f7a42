import Foundation
import NIOCore
import ParleyClient
import Synchronization

/// A cluster that `scripts/cluster up` runs, read from its folder: the nodes' roles, ports and pids, and the load
/// balancer's port.
public struct BenchCluster: Sendable {
    public struct Node: Sendable {
        public let name: String
        public let role: String
        public let port: Int
        public let pid: Int32
    }

    public let folder: String
    public let nodes: [Node]
    /// The load balancer, `http://127.0.0.1:port`: REST goes through it.
    public let url: String

    public init(folder: String) throws {
        func read(_ path: String) throws -> String {
            do {
                return try String(contentsOfFile: "\(folder)/\(path)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw BenchError("no cluster in \(folder) (\(path) is missing): start one with scripts/cluster up, or use scripts/bench")
            }
        }
        self.folder = folder
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/nodes").sorted()
        nodes = try names.map { name in
            Node(
                name: name, role: try read("nodes/\(name)/role"), port: Int(try read("nodes/\(name)/port")) ?? 0,
                pid: Int32(try read("nodes/\(name)/pid")) ?? 0)
        }
        url = "http://127.0.0.1:\(try read("port"))"
    }

    public func nodes(role: String) -> [Node] { nodes.filter { $0.role == role } }

    /// A setting the nodes run with, such as `REDIS_URL`, from the cluster's `env` file.
    func setting(_ name: String) -> String? {
        let lines = (try? String(contentsOfFile: "\(folder)/env", encoding: .utf8))?.split(separator: "\n") ?? []
        return lines.first { $0.hasPrefix("\(name)=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// The CPU and memory of every Parley node.
    public var meter: ProcessMeter { ProcessMeter(pids: nodes.map(\.pid)) }

    /// The processes around the nodes that a load keeps busy: Postgres (the postmaster and its backends), Redis,
    /// HAProxy, and this process, the generator. One whose pid file is missing is left out.
    public var others: [String: ProcessMeter] {
        func pid(_ path: String) -> Int32? {
            (try? String(contentsOfFile: "\(folder)/\(path)", encoding: .utf8))?.split(separator: "\n").first.flatMap { Int32($0) }
        }
        var meters = ["generator": ProcessMeter(pids: [getpid()])]
        meters["postgres"] = pid("postgres/data/postmaster.pid").map { ProcessMeter(family: $0) }
        meters["redis"] = pid("redis/redis.pid").map { ProcessMeter(pids: [$0]) }
        meters["haproxy"] = pid("haproxy.pid").map { ProcessMeter(pids: [$0]) }
        return meters
    }
}

/// Signed-up users for a run, with their REST clients.
public struct BenchUsers: Sendable {
    public let clients: [ParleyClient]
    public var ids: [String] { clients.map { $0.currentSession!.user.id } }
    public var tokens: [String] { clients.map { $0.currentSession!.accessToken } }

    /// Signs up `count` users through the load balancer, eight at a time, showing progress.
    public static func signUp(_ count: Int, url: String, label: String) async throws -> BenchUsers {
        let run = UUID().uuidString.prefix(6).lowercased()
        let progress = Progress("signing up \(count) \(label) users", total: count)
        let made = try await withThrowingTaskGroup(of: (Int, ParleyClient).self) { group in
            var made: [Int: ParleyClient] = [:]
            for index in 0..<count {
                if index >= 8, let (done, client) = try await group.next() {
                    made[done] = client
                    progress.advance()
                }
                group.addTask {
                    let client = ParleyClient(baseURL: url)
                    try await client.register(username: "b\(run)\(label.prefix(1))\(index)", password: "password123", name: "\(label) \(index)")
                    return (index, client)
                }
            }
            for try await (index, client) in group {
                made[index] = client
                progress.advance()
            }
            return made
        }
        progress.finish()
        return BenchUsers(clients: (0..<count).map { made[$0]! })
    }

    /// A group of `owner` and `members` (indexes into these users), added in batches past the creation limit.
    public func room(owner: Int, members: [Int], name: String) async throws -> String {
        let first = Array(members.prefix(255))
        let room = try await clients[owner].createGroup(name: name, members: first.map { ids[$0] }).room.id
        for member in members.dropFirst(first.count) {
            _ = try await clients[owner].addMember(room: room, user: ids[member])
        }
        return room
    }
}

/// Progress on standard error, one line rewritten in place.
public final class Progress: Sendable {
    private let title: String
    private let total: Int
    private let done = Atomic(0)

    public init(_ title: String, total: Int) {
        self.title = title
        self.total = total
    }

    /// On a terminal the line is rewritten every 5%; in a log, a line is written every 25%.
    private static let terminal = isatty(2) != 0

    public func advance() {
        let now = done.add(1, ordering: .relaxed).newValue
        if Self.terminal {
            if now == total || now % max(1, total / 20) == 0 { say("\r  \(title): \(now)/\(total)", newline: false) }
        } else if now == total || now % max(1, total / 4) == 0 {
            say("  \(title): \(now)/\(total)")
        }
    }

    public func finish() { if Self.terminal { say("") } }
}

/// A line on standard error, unbuffered, so that progress shows while a run goes on.
public func say(_ text: String, newline: Bool = true) {
    FileHandle.standardError.write(Data((text + (newline ? "\n" : "")).utf8))
}
