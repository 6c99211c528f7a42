import Foundation
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyStore

@Suite("Messages, on every store")
struct MessageStoreTests {
    @Test("50 concurrent sends to one room get seq 1…50, each exactly once", arguments: Backend.allCases)
    func concurrentSendsHaveNoGaps(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let room = try await store.addContact(owner: alice.id, username: bob.username).contact.room

            let seqs = try await withThrowingTaskGroup(of: Int64.self) { group in
                for n in 0..<50 {
                    group.addTask {
                        let sender = n.isMultiple(of: 2) ? alice.id : bob.id
                        return try await store.send(room: room, sender: sender, clientId: UUID().uuidString, text: "m\(n)").message.seq
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(seqs.sorted() == Array(1...50))
            let stored = try await store.messages(room: room, viewer: alice.id, page: Page(limit: 200))
            #expect(stored.map(\.seq) == Array(1...50))
            #expect(Set(stored.map(\.text)).count == 50)
        }
    }

    @Test("a retried clientId returns the original message, not a copy", arguments: Backend.allCases)
    func retryIsIdempotent(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let room = try await store.addContact(owner: alice.id, username: bob.username).contact.room
            let clientId = UUID().uuidString

            let first = try await store.send(room: room, sender: alice.id, clientId: clientId, text: "hello")
            let retry = try await store.send(room: room, sender: alice.id, clientId: clientId, text: "hello")
            #expect(first.created && !retry.created)
            #expect(retry.message == first.message)
            #expect(first.outbox != nil && retry.outbox == nil)
            // The same key from another sender is another message.
            let other = try await store.send(room: room, sender: bob.id, clientId: clientId, text: "hello")
            #expect(other.created && other.message.seq == 2)
            #expect(try await store.messages(room: room, viewer: bob.id, page: Page()).count == 2)
        }
    }

    /// Run together, as one batch, and one by one, as batches of one (on Postgres another function: 0005's
    /// `parley_send_one` against 0004's `parley_send_batch`): the same outcome either way.
    @Test(
        "a batch of sends to several rooms, with retries and a non-member in it, gives each what it would get alone",
        arguments: Backend.allCases, [false, true])
    func batchedSends(backend: Backend, alone: Bool) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let eve = try await store.makeUser("Eve")
            let direct = try await store.addContact(owner: alice.id, username: bob.username).contact.room
            let notes = try await store.createGroup(owner: alice.id, name: "Notes", members: []).room.id
            let earlier = try await store.send(room: direct, sender: alice.id, clientId: "c0", text: "earlier")

            let requests = [
                SendRequest(room: direct, sender: alice.id, clientId: "c1", text: "a1"),
                SendRequest(room: notes, sender: alice.id, clientId: "c2", text: "n1"),
                SendRequest(room: direct, sender: bob.id, clientId: "c3", text: "a2"),
                SendRequest(room: direct, sender: alice.id, clientId: "c1", text: "a1"),
                SendRequest(room: direct, sender: eve.id, clientId: "c4", text: "intruder"),
                SendRequest(room: direct, sender: alice.id, clientId: "c0", text: "earlier"),
                SendRequest(room: notes, sender: alice.id, clientId: "c5", text: "n2"),
            ]
            var results: [Result<Sent, any Error>] = []
            if alone {
                for request in requests { results += await store.sendBatch([request]) }
            } else {
                results = await store.sendBatch(requests)
            }
            #expect(results.count == requests.count)
            let sent = results.map { try? $0.get() }
            #expect(
                sent.map { $0.map { "\($0.message.room == direct ? "d" : "n")\($0.message.seq)\($0.created ? "+" : "=")" } } == [
                    "d2+", "n1+", "d3+", "d2=", nil, "d1=", "n2+",
                ])
            #expect(sent[3]?.message == sent[0]?.message && sent[5]?.message == earlier.message)
            #expect(throws: ParleyError.self) { try results[4].get() }

            // Each new message has its own outbox row, in request order, carrying that message.
            let created = sent.compactMap { $0 }.filter(\.created)
            let outbox = created.compactMap(\.outbox)
            #expect(outbox.count == 4 && outbox.map(\.id) == outbox.map(\.id).sorted() && Set(outbox.map(\.id)).count == 4)
            for new in created {
                let entry = try #require(new.outbox)
                #expect(try JSONDecoder().decode(Event.self, from: Data(entry.payload.utf8)) == .messageCreated(new.message))
                #expect(entry.channel == Channel.room(new.message.room))
            }
            #expect(sent.filter { $0?.created == false }.allSatisfy { $0?.outbox == nil })

            let stored = try await store.messages(room: direct, viewer: bob.id, page: Page())
            #expect(stored.map(\.text) == ["earlier", "a1", "a2"])
            #expect(try await store.messages(room: notes, viewer: alice.id, page: Page()).map(\.seq) == [1, 2])
            // Each sender has read up to their own newest message; the next send follows on.
            func unread(_ user: String) async throws -> Int64 { try #require(try await store.rooms(of: user).first { $0.id == direct }).unread }
            #expect(try await unread(alice.id) == 1)
            #expect(try await unread(bob.id) == 0)
            #expect(try await store.send(room: direct, sender: bob.id, clientId: "c6", text: "next").message.seq == 4)
        }
    }

    @Test("pages run by seq, ascending, before and after", arguments: Backend.allCases)
    func paging(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let room = try await store.createGroup(owner: alice.id, name: "Notes", members: []).room.id
            for n in 1...10 {
                _ = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "m\(n)")
            }
            func seqs(_ page: Page) async throws -> [Int64] {
                try await store.messages(room: room, viewer: alice.id, page: page).map(\.seq)
            }
            #expect(try await seqs(Page(limit: 3)) == [8, 9, 10])
            #expect(try await seqs(Page(before: 8, limit: 3)) == [5, 6, 7])
            #expect(try await seqs(Page(after: 8, limit: 3)) == [9, 10])
            #expect(try await seqs(Page(after: 2, limit: 3)) == [3, 4, 5])
            #expect(try await seqs(Page(before: 6, after: 2, limit: 50)) == [3, 4, 5])
        }
    }

    @Test("pages of several rooms read in one batch each get their own messages", arguments: Backend.allCases)
    func batchedPages(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let notes = try await store.createGroup(owner: alice.id, name: "Notes", members: []).room.id
            let plans = try await store.createGroup(owner: alice.id, name: "Plans", members: []).room.id
            let empty = try await store.createGroup(owner: alice.id, name: "Empty", members: []).room.id
            for n in 1...10 {
                _ = try await store.send(room: notes, sender: alice.id, clientId: UUID().uuidString, text: "n\(n)")
                if n <= 4 { _ = try await store.send(room: plans, sender: alice.id, clientId: UUID().uuidString, text: "p\(n)") }
            }
            let expected: [RoomPage: [Int64]] = [
                RoomPage(room: notes, page: Page(limit: 3)): [8, 9, 10],
                RoomPage(room: notes, page: Page(before: 8, limit: 3)): [5, 6, 7],
                RoomPage(room: notes, page: Page(after: 2, limit: 3)): [3, 4, 5],
                RoomPage(room: notes, page: Page(before: 6, after: 2, limit: 50)): [3, 4, 5],
                RoomPage(room: plans, page: Page(limit: 3)): [2, 3, 4],
                RoomPage(room: plans, page: Page(after: 2, limit: 3)): [3, 4],
                RoomPage(room: plans, page: Page(after: 4, limit: 3)): [],
                RoomPage(room: empty, page: Page(limit: 3)): [],
            ]
            let read = try await store.read { sql in try await SQLStore.messages(Set(expected.keys), dialect: store.dialect, sql) }
            #expect(expected.mapValues { _ in [] }.merging(read.mapValues { $0.map(\.seq) }) { $1 } == expected)
            #expect(read.allSatisfy { page, messages in messages.allSatisfy { $0.room == page.room } })

            // The same pages asked at once, many times over, through `messages`, which batches them.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    for (page, seqs) in expected {
                        group.addTask {
                            let messages = try await store.messages(room: page.room, viewer: alice.id, page: page.page)
                            #expect(messages.map(\.seq) == seqs)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("a deleted message keeps its seq and loses its text; only its sender or an admin deletes it", arguments: Backend.allCases)
    func deleting(backend: Backend) async throws {
        try await backend.withStore { store in
            let owner = try await store.makeUser("Olive")
            let member = try await store.makeUser("Max")
            let other = try await store.makeUser("Nina")
            let room = try await store.createGroup(owner: owner.id, name: "Team", members: [member.id, other.id]).room.id
            let mine = try await store.send(room: room, sender: member.id, clientId: UUID().uuidString, text: "secret").message
            let theirs = try await store.send(room: room, sender: other.id, clientId: UUID().uuidString, text: "other").message

            await expectError(.forbidden) { try await store.deleteMessage(room: room, seq: theirs.seq, actor: member.id) }
            let deleted = try await store.deleteMessage(room: room, seq: mine.seq, actor: member.id)
            #expect(deleted.created && deleted.message.text == nil && deleted.message.deletedAt != nil && deleted.outbox != nil)
            // The owner may delete anyone's.
            #expect(try await store.deleteMessage(room: room, seq: theirs.seq, actor: owner.id).created)
            // Deleting again changes nothing.
            #expect(try await store.deleteMessage(room: room, seq: mine.seq, actor: member.id).created == false)
            await expectError(.notFound) { try await store.deleteMessage(room: room, seq: 99, actor: owner.id) }

            let history = try await store.messages(room: room, viewer: owner.id, page: Page())
            #expect(history.map(\.seq) == [1, 2])
            #expect(history.allSatisfy { $0.text == nil && $0.isDeleted })
        }
    }

    @Test("unread counts others' messages after the read mark, which only moves forward", arguments: Backend.allCases)
    func unreadAndRead(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let room = try await store.addContact(owner: alice.id, username: bob.username).contact.room
            for n in 1...4 {
                _ = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "m\(n)")
            }
            func unread(_ user: String) async throws -> Int64 { try #require(try await store.rooms(of: user).first).unread }
            #expect(try await unread(bob.id) == 4)
            #expect(try await unread(alice.id) == 0)
            try await store.markRead(room: room, user: bob.id, seq: 3)
            #expect(try await unread(bob.id) == 1)
            try await store.markRead(room: room, user: bob.id, seq: 1)
            #expect(try await unread(bob.id) == 1)
            await expectError(.invalidField) { try await store.markRead(room: room, user: bob.id, seq: 5) }
            let summary = try #require(try await store.rooms(of: bob.id).first)
            #expect(summary.lastSeq == 4 && summary.lastMessage?.text == "m4" && summary.peer?.id == alice.id)
            #expect(summary.name == "Alice")
        }
    }

    @Test("every send writes an outbox row in its transaction; the relay publishes and clears what is old enough", arguments: Backend.allCases)
    func outbox(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let room = try await store.createGroup(owner: alice.id, name: "Log", members: []).room.id
            let first = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "one")
            let second = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "two")
            let later = Timestamp.now.adding(seconds: 1)
            // Nothing is old enough yet.
            let early = try await store.relayOutbox(olderThan: .now.adding(seconds: -60), limit: 10, publish: Published.ignore)
            #expect(early == 0)

            let seen = Published()
            let published = try await store.relayOutbox(olderThan: later, limit: 1) { await seen.add($0) }
            #expect(published == 1)
            let entry = try #require(await seen.entries.first)
            #expect(entry.id == first.outbox?.id && entry.channel == Channel.room(room))
            #expect(try JSONDecoder().decode(Event.self, from: Data(entry.payload.utf8)) == .messageCreated(first.message))

            // A failed publish keeps the row for the next round.
            let failed = try await store.relayOutbox(olderThan: later, limit: 10, publish: Published.fail)
            #expect(failed == 0)
            let retried = try await store.relayOutbox(olderThan: later, limit: 10) { await seen.add($0) }
            #expect(retried == 1)
            let ids = await seen.entries.map(\.id)
            #expect(ids == [first.outbox?.id, second.outbox?.id])
            let drained = try await store.relayOutbox(olderThan: later, limit: 10, publish: Published.ignore)
            #expect(drained == 0)
        }
    }

    @Test("a published row is deleted by the next batch of sends, or by itself a moment later when none comes", arguments: Backend.allCases)
    func publishedRows(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let room = try await store.createGroup(owner: alice.id, name: "Log", members: []).room.id
            func rows() async throws -> [Int64] {
                try await store.read { sql in try await sql.query("SELECT id FROM outbox ORDER BY id", []).map { try $0.int(0) } }
            }
            let first = try #require(try await store.send(room: room, sender: alice.id, clientId: "c1", text: "one").outbox)
            #expect(try await rows() == [first.id])

            // Waiting, with no deletion of its own on the way: the next send's transaction deletes it.
            #expect(store.published.add(first.id))
            let second = try #require(try await store.send(room: room, sender: alice.id, clientId: "c2", text: "two").outbox)
            #expect(try await rows() == [second.id])
            #expect(store.published.takeAll().isEmpty)

            // No send comes: it goes by itself.
            store.markPublished(outbox: second.id)
            try await waitUntil("the published row is deleted", within: .seconds(2)) { try await rows().isEmpty }
        }
    }

    @Test("a non-member can neither read, send, delete nor mark read", arguments: Backend.allCases)
    func nonMembers(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let eve = try await store.makeUser("Eve")
            let room = try await store.createGroup(owner: alice.id, name: "Private", members: []).room.id
            _ = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "hi")
            await expectError(.notFound) { try await store.messages(room: room, viewer: eve.id, page: Page()) }
            await expectError(.notFound) { try await store.send(room: room, sender: eve.id, clientId: UUID().uuidString, text: "x") }
            await expectError(.notFound) { try await store.deleteMessage(room: room, seq: 1, actor: eve.id) }
            await expectError(.notFound) { try await store.markRead(room: room, user: eve.id, seq: 1) }
            await expectError(.notFound) { try await store.room(room, viewer: eve.id) }
        }
    }
}

/// What a relay round handed to its publisher.
actor Published {
    struct Down: Error {}

    var entries: [OutboxEntry] = []
    func add(_ entry: OutboxEntry) { entries.append(entry) }
    static func ignore(_ entry: OutboxEntry) async throws {}
    static func fail(_ entry: OutboxEntry) async throws { throw Down() }
}
