import Foundation
import ParleyCore

/// The send path: concurrent sends committed together, each with its seq and its outbox row in one transaction.
extension SQLStore {
    /// Sends go through a batcher: concurrent sends share a transaction, and so a commit (see `sendBatch`).
    public func send(room: String, sender: String, clientId: String, text: String) async throws -> Sent {
        try await sends.submit(SendRequest(room: room, sender: sender, clientId: clientId, text: text)) { [self] batch in
            await sendBatch(batch)
        }
    }

    /// Commits a batch of sends in one transaction, with a fixed number of statements whatever its size (one call on
    /// Postgres), and deletes published outbox rows in it. A request that fails on its own (its sender is not a
    /// member) fails alone; if the transaction itself fails, each request is tried again by itself, so that one
    /// cannot take the others down with it.
    func sendBatch(_ requests: [SendRequest]) async -> [Result<Sent, any Error>] {
        let published = published.take()
        do {
            switch dialect {
            case .postgres:
                return try await read { sql in try await Self.sendThroughFunction(requests, published: published, now: .now, sql) }
            case .sqlite:
                return try await transaction { sql in
                    try await sql.deleteOutbox(published)
                    return try await Self.send(requests, now: .now, dialect: dialect, sql)
                }
            }
        } catch  where requests.count > 1 {
            self.published.giveBack(published)
            var results: [Result<Sent, any Error>] = []
            for request in requests { results += await sendBatch([request]) }
            return results
        } catch {
            self.published.giveBack(published)
            return [.failure(error)]
        }
    }

    /// On Postgres, a batch is one call of `parley_send_batch` (migrations 0003 and 0004): the steps below, run
    /// inside the server in one round trip and one transaction. A batch of one, the usual one below saturation,
    /// calls `parley_send_one` (migration 0005), the same steps as plain statements, at about half the cost.
    fileprivate static func sendThroughFunction(
        _ requests: [SendRequest], published: [Int64], now: Timestamp, _ sql: any SQLExecutor
    ) async throws -> [Result<Sent, any Error>] {
        let published = SQLValue.text("{\(published.map(String.init).joined(separator: ","))}")
        let rows =
            if let request = requests.first, requests.count == 1 {
                try await sql.query(
                    SendOne.self,
                    [
                        .text(request.room), .text(request.sender), .text(request.clientId), .text(request.text), .int(now.milliseconds),
                        .text(now.iso8601), published,
                    ])
            } else {
                try await sql.query(SendBatch.self, [.text(SendRequest.json(requests)), .int(now.milliseconds), .text(now.iso8601), published])
            }
        guard rows.count == requests.count else {
            throw StoreError(description: "the send function gave \(rows.count) rows for \(requests.count) requests")
        }
        return try zip(requests, rows).map { request, row in
            let status = try row.text(1)
            guard status != "not_found" else { return .failure(ParleyError.notFound("room")) }
            let message = Message(
                room: request.room, seq: try row.int(2), clientId: request.clientId, sender: request.sender, text: try row.optionalText(3),
                sentAt: Timestamp(milliseconds: try row.int(4)), deletedAt: try row.optionalInt(5).map(Timestamp.init(milliseconds:)))
            let outbox = try row.optionalInt(6).map { OutboxEntry(id: $0, channel: Channel.room(request.room), payload: try row.text(7)) }
            return .success(Sent(message: message, created: status == "created", outbox: outbox))
        }
    }

    /// The two calls, prepared once per connection, so that Postgres does not parse and plan them on every send. A
    /// prepared statement keeps its result's columns, so a migration that changes the functions' columns gives them
    /// new names, which nodes still running the old code do not call.
    fileprivate enum SendOne: PreparedSQL {
        static let name = "parley_send_one"
        static let sql = "SELECT 1, \(sendColumns) FROM parley_send_one(?, ?, ?, ?, ?, ?, ?::bigint[])"
    }

    fileprivate enum SendBatch: PreparedSQL {
        static let name = "parley_send_batch"
        static let sql = "SELECT ord, \(sendColumns) FROM parley_send_batch(?::json, ?, ?, ?::bigint[]) ORDER BY ord"
    }

    fileprivate static let sendColumns = "status, msg_seq, msg_text, msg_sent_at, msg_deleted_at, outbox_id, outbox_payload"

    /// On SQLite: the same steps as a fixed set of statements for the whole batch.
    fileprivate static func send(
        _ requests: [SendRequest], now: Timestamp, dialect: SQLDialect, _ sql: any SQLExecutor
    ) async throws -> [Result<Sent, any Error>] {
        let members = try await sql.roles(Set(requests.map(\.membership)))
        let admitted = requests.filter { members[$0.membership] != nil }
        guard !admitted.isEmpty else { return requests.map { _ in .failure(ParleyError.notFound("room")) } }

        // Locking the room rows serialises each room's senders, so the next seq is free and no seq is skipped. In id
        // order, so that two batches never wait for each other's rooms.
        let rooms = Set(admitted.map(\.room)).sorted()
        var lastSeq: [String: Int64] = [:]
        for row in try await sql.query(
            "SELECT id, last_seq FROM rooms WHERE id IN (\(placeholders(rooms.count))) ORDER BY id" + dialect.forUpdate, rooms.map { .text($0) })
        {
            lastSeq[try row.text(0)] = try row.int(1)
        }
        // Checked under the lock, so that a retry racing its original sees the original once it commits.
        var stored: [SendRequest.Key: Message] = [:]
        for row in try await sql.query(
            "SELECT \(messageColumns) FROM messages m JOIN (VALUES \(values(admitted.count, 3))) AS v"
                + " ON m.room_id = v.column1 AND m.sender_id = v.column2 AND m.client_id = v.column3",
            admitted.flatMap { [.text($0.room), .text($0.sender), .text($0.clientId)] })
        {
            let message = try message(from: row)
            stored[SendRequest.Key(room: message.room, sender: message.sender, clientId: message.clientId)] = message
        }

        var results: [Result<Sent, any Error>] = []
        var created: [Message] = []
        for request in requests {
            guard members[request.membership] != nil, let last = lastSeq[request.room] else {
                results.append(.failure(ParleyError.notFound("room")))
                continue
            }
            // A retry, also of a request earlier in this batch.
            if let message = stored[request.key] {
                results.append(.success(Sent(message: message, created: false, outbox: nil)))
                continue
            }
            let message = Message(
                room: request.room, seq: last + 1, clientId: request.clientId, sender: request.sender, text: request.text, sentAt: now)
            lastSeq[request.room] = message.seq
            stored[request.key] = message
            created.append(message)
            results.append(.success(Sent(message: message, created: true, outbox: nil)))
        }
        guard !created.isEmpty else { return results }

        try await sql.execute(
            "INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at) VALUES \(values(created.count, 6))",
            created.flatMap { [.text($0.room), .int($0.seq), .text($0.clientId), .text($0.sender), .text($0.text ?? ""), .int(now.milliseconds)] })
        let roomSeqs = Dictionary(created.map { ($0.room, $0.seq) }, uniquingKeysWith: max)
        try await sql.execute(
            "UPDATE rooms SET last_seq = v.column2 FROM (VALUES \(values(roomSeqs.count, 2))) AS v WHERE rooms.id = v.column1",
            roomSeqs.flatMap { [.text($0.key), .int($0.value)] })
        // What you sent yourself is read.
        let readSeqs = Dictionary(created.map { (Membership(room: $0.room, user: $0.sender), $0.seq) }, uniquingKeysWith: max)
        try await sql.execute(
            "UPDATE room_members SET last_read_seq = v.column3 FROM (VALUES \(values(readSeqs.count, 3))) AS v"
                + " WHERE room_members.room_id = v.column1 AND room_members.user_id = v.column2",
            readSeqs.flatMap { [.text($0.key.room), .text($0.key.user), .int($0.value)] })
        let outbox = try await sql.enqueue(created.map { (.messageCreated($0), Channel.room($0.room)) }, now: now)
        var entries = outbox.makeIterator()
        return results.map { result in
            guard case .success(var sent) = result, sent.created else { return result }
            sent.outbox = entries.next()
            return .success(sent)
        }
    }
}

/// One call to `send`, waiting for its batch.
struct SendRequest: Sendable {
    /// What makes a send a retry of another.
    struct Key: Hashable {
        let room: String
        let sender: String
        let clientId: String
    }

    let room: String
    let sender: String
    let clientId: String
    let text: String

    /// The requests as `parley_send_batch` reads them: `[{"room", "sender", "clientId", "text"}, …]`.
    static func json(_ requests: [SendRequest]) -> String {
        var json = JSONText(capacity: requests.count * 160)
        json.raw("[")
        for (index, request) in requests.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"room\":")
            json.string(request.room)
            json.raw(",\"sender\":")
            json.string(request.sender)
            json.raw(",\"clientId\":")
            json.string(request.clientId)
            json.raw(",\"text\":")
            json.string(request.text)
            json.raw("}")
        }
        json.raw("]")
        return String(decoding: json.bytes, as: UTF8.self)
    }

    var key: Key { Key(room: room, sender: sender, clientId: clientId) }
    var membership: Membership { Membership(room: room, user: sender) }
}
