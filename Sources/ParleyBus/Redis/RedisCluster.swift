import NIOCore

/// Redis Cluster's map of keys and channels to shards: a name's hash slot (CRC16 of its hash tag, or of the whole
/// name, modulo 16384), and which shard's master serves each slot, as `CLUSTER SHARDS` tells it.
public enum RedisSlots {
    public static let count = 16384

    /// The slot of a key or a sharded channel. A name holding `{tag}` with a non-empty tag hashes the tag alone, so
    /// that a room's channel and keys (`parley:room:{r1}`, `parley:members:{r1}`) share a slot, and a shard.
    public static func slot(_ name: String) -> Int {
        Int(crc16(Array(hashTag(of: name).utf8)) % UInt16(count))
    }

    /// The name a key or channel has on a cluster: Parley's `parley:KIND:ID` with its id as the hash tag
    /// (`parley:room:{r_1}`), so that what is kept for one room, user or node hashes to one slot and one shard, and
    /// rooms spread over the shards. A name with no id, or with braces already, is its own.
    public static func clustered(_ name: String) -> String {
        guard !name.contains("{"), !name.contains("}") else { return name }
        guard let first = name.firstIndex(of: ":"), let second = name[name.index(after: first)...].firstIndex(of: ":") else { return name }
        let id = name[name.index(after: second)...]
        return id.isEmpty ? name : name[...second] + "{" + id + "}"
    }

    /// Parley's name of a channel the cluster names with `clustered`.
    public static func unclustered(_ name: String) -> String {
        guard name.hasSuffix("}"), let open = name.firstIndex(of: "{") else { return name }
        return String(name[..<open] + name[name.index(after: open)..<name.index(before: name.endIndex)])
    }

    /// What a name hashes: the text between its first `{` and the first `}` after it, when that is not empty.
    static func hashTag(of name: String) -> Substring {
        guard let open = name.firstIndex(of: "{"), let close = name[name.index(after: open)...].firstIndex(of: "}"),
            close > name.index(after: open)
        else { return name[...] }
        return name[name.index(after: open)..<close]
    }

    /// CRC16/XMODEM (polynomial 0x1021, no reflection, initial 0), as Redis Cluster hashes.
    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}

/// The cluster's shards as `CLUSTER SHARDS` answers: each shard's slot ranges and its master's address.
public struct RedisClusterTopology: Sendable, Equatable {
    /// A cluster node's `host:port`.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            (self.host, self.port) = (host, port)
        }

        /// Reads `host:port`, as MOVED and ASK name a node; the port follows the last colon, for IPv6.
        init?(_ text: some StringProtocol) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
            self.init(host: String(text[..<colon]), port: port)
        }

        public var description: String { "\(host):\(port)" }
    }

    public struct Shard: Sendable, Equatable {
        public var slots: [ClosedRange<Int>]
        /// Where a shard's SPUBLISH, SSUBSCRIBE and key commands go.
        public var master: Address
    }

    public var shards: [Shard]
    /// Each slot's master, nil for a slot no master serves (while a failed one's replica is not yet promoted).
    private var masters: [Address?]

    /// The shard that serves `slot`, if any does.
    public func shard(of slot: Int) -> Shard? {
        shards.first { $0.slots.contains { $0.contains(slot) } }
    }

    /// The master that serves `slot`, if any does.
    public func master(of slot: Int) -> Address? { masters[slot] }

    /// Reads `CLUSTER SHARDS`: a list of shards, each a map (as a flat list, in RESP2) with `slots`, a flat list of
    /// range bounds, and `nodes`, maps with `ip`, `endpoint`, `port` (or `tls-port`), `role` and `health`.
    init(shards reply: RESPValue, tls: Bool) throws {
        guard let entries = reply.array else { throw RedisError(description: "CLUSTER SHARDS answered no list") }
        shards = try entries.compactMap { entry in
            let fields = Self.map(entry)
            let bounds = fields["slots"]?.array?.compactMap(\.integer).map(Int.init) ?? []
            guard bounds.count % 2 == 0 else { throw RedisError(description: "CLUSTER SHARDS gave slots in odd bounds") }
            let slots = stride(from: 0, to: bounds.count, by: 2).map { bounds[$0]...bounds[$0 + 1] }
            // A master that failed stays a master in the list, with its health "failed", until it comes back as
            // its successor's replica.
            let master = (fields["nodes"]?.array ?? []).map(Self.map).first { $0["role"]?.string == "master" && $0["health"]?.string == "online" }
            guard !slots.isEmpty, let master else { return nil }
            let host = master["endpoint"]?.string.flatMap { $0 == "?" || $0.isEmpty ? nil : $0 } ?? master["ip"]?.string
            let port = (tls ? master["tls-port"] : master["port"])?.integer ?? master["port"]?.integer
            guard let host, let port else { throw RedisError(description: "CLUSTER SHARDS named a master without an address") }
            return Shard(slots: slots, master: Address(host: host, port: Int(port)))
        }
        masters = Self.masters(of: shards)
    }

    public init(shards: [Shard]) {
        self.shards = shards
        masters = Self.masters(of: shards)
    }

    private static func masters(of shards: [Shard]) -> [Address?] {
        var masters = [Address?](repeating: nil, count: RedisSlots.count)
        for shard in shards {
            for range in shard.slots where range.lowerBound >= 0 && range.upperBound < RedisSlots.count {
                for slot in range { masters[slot] = shard.master }
            }
        }
        return masters
    }

    private static func map(_ value: RESPValue) -> [String: RESPValue] {
        let items = value.array ?? []
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: items.count - 1, by: 2) {
            if let key = items[index].string { fields[key] = items[index + 1] }
        }
        return fields
    }
}
