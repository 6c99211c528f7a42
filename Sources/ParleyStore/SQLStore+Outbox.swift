import ParleyCore
import Synchronization

extension SQLStore {
    /// A published row is deleted later, with others: by the next batch of sends, in the transaction it commits
    /// anyway, or by a statement of its own `PublishedRows.delay` after it when no send comes first (the store's
    /// `run` deletes them). Until then
    /// the row stays, as it would after a failed delete. The relay leaves rows younger than its grace (seconds)
    /// alone; the rows a node leaves behind when it stops or dies it publishes again, duplicates that clients
    /// drop by (room, seq).
    public func markPublished(outbox id: Int64) {
        guard published.add(id) else { return }
        publishedRowsWait.yield()
    }

    /// Deletes published rows `PublishedRows.delay` after they wait, until the task is cancelled.
    func deletePublishedRows() async {
        for await _ in publishedRowsWaiting {
            try? await Task.sleep(for: PublishedRows.delay)
            await deletePublished()
        }
    }

    /// Deletes the published rows that no send took along.
    func deletePublished() async {
        let ids = published.takeAll()
        guard !ids.isEmpty else { return }
        do {
            try await read { sql in try await sql.deleteOutbox(ids) }
        } catch {
            logger.debug("deleting published outbox rows failed; the relay will publish them again", metadata: ["error": "\(error)"])
        }
    }

    public func relayOutbox(olderThan: Timestamp, limit: Int, publish: (OutboxEntry) async throws -> Void) async throws -> Int {
        try await transaction { sql in
            let entries = try await sql.query(
                "SELECT id, channel, payload FROM outbox WHERE created_at < ? ORDER BY id LIMIT ?" + dialect.forUpdateSkipLocked,
                [.int(olderThan.milliseconds), .int(Int64(limit))]
            ).map { OutboxEntry(id: try $0.int(0), channel: try $0.text(1), payload: try $0.text(2)) }
            var published: [Int64] = []
            for entry in entries {
                // A failed publish stops the round; what was published is deleted, the rest waits for the next one.
                do { try await publish(entry) } catch { break }
                published.append(entry.id)
            }
            try await sql.deleteOutbox(published)
            return published.count
        }
    }
}

extension SQLExecutor {
    func deleteOutbox(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await execute("DELETE FROM outbox WHERE id IN (\(SQLStore.placeholders(ids.count)))", ids.map { .int($0) })
    }
}

/// Outbox rows whose events went out, waiting to be deleted (see `SQLStore.markPublished`).
final class PublishedRows: Sendable {
    static let delay = Duration.milliseconds(50)
    /// A send batch takes at most this many along.
    static let batchLimit = 1024

    private struct State {
        var ids: [Int64] = []
        /// A `deletePublished` is on its way.
        var deleting = false
    }

    private let state = Mutex(State())

    /// Adds `id`; true when no deletion is on its way, so that the caller sends one.
    func add(_ id: Int64) -> Bool {
        state.withLock { state in
            state.ids.append(id)
            defer { state.deleting = true }
            return !state.deleting
        }
    }

    /// Takes up to `batchLimit` ids, for a send batch to delete.
    func take() -> [Int64] {
        state.withLock { state in
            let taken = Array(state.ids.prefix(Self.batchLimit))
            state.ids.removeFirst(taken.count)
            return taken
        }
    }

    /// Gives back ids that a failed send batch was to delete.
    func giveBack(_ ids: [Int64]) {
        guard !ids.isEmpty else { return }
        state.withLock { $0.ids += ids }
    }

    /// Takes every id, for the deletion that was on its way; the next `add` sends another.
    func takeAll() -> [Int64] {
        state.withLock { state in
            state.deleting = false
            defer { state.ids = [] }
            return state.ids
        }
    }
}
