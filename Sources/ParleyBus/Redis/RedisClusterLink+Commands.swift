import NIOCore

/// Commands on a Redis Cluster: each to the master of its key's slot, one pipeline per master, following MOVED and
/// ASK; publishes that keep their order while they follow the cluster.
extension RedisClusterLink {
    func pipeline(_ commands: [[ByteBuffer]]) async throws -> [RESPValue] {
        let replies = try await send(commands.map(Self.clustered))
        for case .error(let message) in replies { throw RedisError(description: message) }
        return replies
    }

    /// A command whose key, its first argument, carries its hash tag.
    private static func clustered(_ command: [ByteBuffer]) -> [ByteBuffer] {
        guard command.count > 1 else { return command }
        var command = command
        command[1] = ByteBuffer(string: RedisSlots.clustered(String(buffer: command[1])))
        return command
    }

    /// What Redis Cluster answers instead of a reply where a command should go elsewhere or wait.
    private enum Redirection {
        /// The slot is another master's for good: read the topology again.
        case moved
        /// The slot is moving, and this key is on `Address` already: ask there, once.
        case ask(Address)
        /// The cluster is failing over or the slot is importing: wait a little and try again.
        case wait

        init?(_ message: String) {
            let words = message.split(separator: " ")
            guard let kind = words.first else { return nil }
            switch kind {
            case "MOVED": self = .moved
            case "ASK": guard words.count == 3, let address = Address(words[2]) else { return nil }; self = .ask(address)
            case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN": self = .wait
            default: return nil
            }
        }
    }

    /// Sends each command to the master of its key's slot (a command without a key to any master), in one pipeline
    /// per master, following MOVED and ASK and waiting out a failover, up to `patience`. Error replies are returned.
    private func send(_ commands: [[ByteBuffer]]) async throws -> [RESPValue] {
        var replies = [RESPValue?](repeating: nil, count: commands.count)
        var asking: [Int: Address] = [:]
        let deadline = ContinuousClock.now + Self.patience
        var pause = Duration.milliseconds(25)
        var failure: (any Error)?
        while true {
            let pending = replies.indices.filter { replies[$0] == nil }
            if pending.isEmpty { return replies.map { $0! } }
            guard ContinuousClock.now < deadline else {
                throw failure ?? RedisError(description: "\(self) did not take the commands within \(Self.patience)")
            }
            var stale = false, waiting = false
            let topology = try await self.topology()
            var batches: [Address: [Int]] = [:]
            for index in pending {
                let slot = commands[index].count > 1 ? RedisSlots.slot(String(buffer: commands[index][1])) : 0
                if let address = asking[index] ?? topology.master(of: slot) {
                    batches[address, default: []].append(index)
                } else {
                    stale = true
                }
            }
            let redirected = asking
            asking = [:]
            await withTaskGroup(of: (indices: [Int], answers: Result<[RESPValue], any Error>).self) { group in
                for (address, indices) in batches {
                    group.addTask {
                        let batch = indices.flatMap { index in
                            redirected[index] == nil ? [commands[index]] : [[ByteBuffer(string: "ASKING")], commands[index]]
                        }
                        do {
                            let answers = try await self.connection(to: address).answers(to: batch).get()
                            // ASKING's OK is not a reply the caller asked for.
                            var replies = answers[...]
                            return (indices, .success(indices.map { index in
                                if redirected[index] != nil { replies.removeFirst() }
                                return replies.removeFirst()
                            }))
                        } catch {
                            return (indices, .failure(error))
                        }
                    }
                }
                for await (indices, answers) in group {
                    switch answers {
                    case .failure(let error):
                        failure = error
                        stale = true
                    case .success(let answers):
                        for (index, answer) in zip(indices, answers) {
                            guard case .error(let message) = answer, let redirection = Redirection(message) else {
                                replies[index] = answer
                                continue
                            }
                            failure = RedisError(description: message)
                            switch redirection {
                            case .moved: stale = true
                            case .ask(let address): asking[index] = address
                            case .wait: waiting = true
                            }
                        }
                    }
                }
            }
            if stale || !asking.isEmpty { wake() }
            if stale { _ = try? await refresh() }
            if stale || waiting {
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(500))
            }
        }
    }

    /// With the map and the master's connection at hand, and no publish queued, one write, as on one Redis; else, or
    /// when the master answers otherwise (the slot moved, the master died), queued to follow the cluster, in order.
    /// A publish the master answered MOVED may so come after publishes written after it: only across a slot's move.
    func publish(_ payload: ByteBuffer, to channel: String, then: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        let name = RedisSlots.clustered(channel)
        let publish = Publish(command: [ByteBuffer(string: "SPUBLISH"), ByteBuffer(string: name), payload], then: then)
        let master = state.withLock { state -> RedisConnection? in
            guard state.following.isEmpty else { return nil }
            return state.topology?.master(of: RedisSlots.slot(name)).flatMap { state.commands[$0] }
        }
        guard let master else { return follow(publish) }
        master.answers(to: [publish.command]).whenComplete { result in
            if case .success(let answers) = result, let count = answers.first?.integer {
                then(.success(Int(count)))
            } else {
                self.follow(publish)
            }
        }
    }

    private func follow(_ publish: Publish) {
        let closed = state.withLock { state in
            if !state.closed { state.following.append(publish) }
            return state.closed
        }
        if closed { return publish.then(.failure(RedisError(description: "the bus stopped"))) }
        publisher.yield()
    }

    /// Sends the queued publishes one at a time, each to where the cluster says, until cancelled.
    func sendFollowing() async {
        for await _ in published {
            while let publish = state.withLock({ $0.following.first }) {
                do {
                    let reply = try await send([publish.command])[0]
                    if case .error(let message) = reply { throw RedisError(description: message) }
                    publish.then(.success(Int(reply.integer ?? 0)))
                } catch {
                    publish.then(.failure(error))
                }
                state.withLock { state in _ = state.following.removeFirst() }
            }
        }
    }
}
