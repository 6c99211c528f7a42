import NIOCore

/// Subscriptions on a Redis Cluster: each channel subscribed (SSUBSCRIBE, batched by slot) on the master that serves
/// it, and taken back when its slot moves away or its connection drops.
extension RedisClusterLink {
    func subscribe(_ channels: [String]) async {
        state.withLock { state in for channel in channels { state.placing[channel, default: 0] += 1 } }
        defer {
            state.withLock { state in
                for channel in channels {
                    state.placing[channel, default: 1] -= 1
                    if state.placing[channel] == 0 { state.placing.removeValue(forKey: channel) }
                }
            }
        }
        // What cannot be placed now, `run` places, and then tells `.resumed`: this subscribe returns unconfirmed.
        guard let topology = try? await topology() else { return wake() }
        if await place(channels, on: topology).count < channels.count { wake() }
    }

    /// Subscribes `channels` on the masters that serve them, one SSUBSCRIBE per slot, and waits until each is
    /// confirmed or its connection lost. Returns the channels it subscribed; the others are left to `run`.
    func place(_ channels: [String], on topology: RedisClusterTopology) async -> [String] {
        var byMaster: [Address: [String]] = [:]
        for channel in channels {
            if let master = topology.master(of: RedisSlots.slot(RedisSlots.clustered(channel))) { byMaster[master, default: []].append(channel) }
        }
        var placed: [String] = []
        for (address, group) in byMaster {
            guard let listener = try? await listener(at: address) else { continue }
            let names = group.map(RedisSlots.clustered)
            // Placed before the SSUBSCRIBE goes, so that a `sunsubscribe` after it is read against it.
            state.withLock { state in for channel in group { state.placed[channel] = address } }
            confirmations.expect(names)
            do {
                for slot in Dictionary(grouping: names, by: RedisSlots.slot).values { try await listener.post(["SSUBSCRIBE"] + slot) }
                placed += group
            } catch {
                state.withLock { state in for channel in group where state.placed[channel] == address { state.placed[channel] = nil } }
                confirmations.release(names)
            }
        }
        await confirmations.wait(for: placed.map(RedisSlots.clustered))
        return placed
    }

    func unsubscribe(_ channels: [String]) async {
        let byMaster = state.withLock { state -> [Address: [String]] in
            var byMaster: [Address: [String]] = [:]
            for channel in channels {
                if let address = state.placed.removeValue(forKey: channel) { byMaster[address, default: []].append(channel) }
            }
            return byMaster
        }
        for (address, group) in byMaster { await sunsubscribe(group, at: address) }
    }

    func sunsubscribe(_ channels: [String], at address: Address) async {
        guard let listener = state.withLock({ $0.listeners[address] }) else { return }
        for slot in Dictionary(grouping: channels.map(RedisSlots.clustered), by: RedisSlots.slot).values {
            try? await listener.post(["SUNSUBSCRIBE"] + slot)
        }
    }

    /// Routes a push from the listener at `address`: a message, a confirmation, the cluster taking a channel away
    /// (its slot moved), or an SSUBSCRIBE refused (the slot is elsewhere, or the cluster is down).
    func route(_ push: RESPValue, from address: Address) {
        if case .error(let message) = push { return unplace(at: address, slot: Int(message.split(separator: " ").dropFirst().first ?? "")) }
        guard let parts = push.array, let kind = parts.first?.string, parts.count >= 2, let name = parts[1].string else { return }
        switch kind {
        case "smessage":
            guard parts.count == 3, case .bulk(let payload) = parts[2] else { return }
            subscribers.deliver(BusMessage(channel: RedisSlots.unclustered(name), payload: payload))
        case "ssubscribe":
            confirmations.confirm(name)
        case "sunsubscribe":
            // The node's own unsubscribe forgot the channel before it went; one still placed here was taken away.
            let channel = RedisSlots.unclustered(name)
            let taken = state.withLock { state in
                guard state.placed[channel] == address else { return false }
                state.placed[channel] = nil
                return true
            }
            if taken {
                confirmations.release([name])
                wake()
            }
        default:
            break
        }
    }

    /// Forgets the channels placed at `address` (of `slot`, when known), so that `run` subscribes them again.
    private func unplace(at address: Address, slot: Int?) {
        let names = state.withLock { state -> [String] in
            let channels = state.placed.filter { channel, placedAt in
                placedAt == address && slot.map { RedisSlots.slot(RedisSlots.clustered(channel)) == $0 } ?? true
            }.map(\.key)
            for channel in channels { state.placed[channel] = nil }
            return channels.map(RedisSlots.clustered)
        }
        confirmations.release(names)
        wake()
    }
}
