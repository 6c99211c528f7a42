import Foundation
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyStore

@Suite("Files, on every store")
struct FileStoreTests {
    func announce(_ store: SQLStore, _ room: String, by uploader: String, stored: Bool = true, at time: Timestamp = .now) async throws -> StoredFile {
        let file = StoredFile(
            ref: FileRef(id: Identifier.make("f"), name: "cat.png", size: 42, contentType: "image/png"), room: room, uploader: uploader,
            createdAt: time)
        try await store.createFile(file)
        if stored { #expect(try await store.markFileStored(file.ref.id, at: .now)) }
        return file
    }

    @Test("a message takes its sender's stored files once, carries them in history, and its deletion takes them out", arguments: Backend.allCases)
    func sendWithFiles(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let carol = try await store.makeUser("Carol")
            let room = try await store.addContact(owner: alice.id, username: bob.username).contact.room
            let (first, second) = (try await announce(store, room, by: alice.id), try await announce(store, room, by: alice.id))
            await #expect(throws: ParleyError.notFound("room")) { try await announce(store, room, by: carol.id) }
            #expect(try await store.markFileStored(first.ref.id, at: .now) == false)

            let clientId = UUID().uuidString
            let sent = try await store.send(room: room, sender: alice.id, clientId: clientId, text: "", files: [second.ref.id, first.ref.id], replyTo: nil)
            #expect(sent.created && sent.message.files == [second.ref, first.ref] && sent.outbox != nil)
            let retried = try await store.send(room: room, sender: alice.id, clientId: clientId, text: "", files: [second.ref.id, first.ref.id], replyTo: nil)
            #expect(!retried.created && retried.message.seq == sent.message.seq && Set(retried.message.files ?? []) == [first.ref, second.ref])

            // Once only, only by its uploader, only when whole.
            let pending = try await announce(store, room, by: alice.id, stored: false)
            let bobs = try await announce(store, room, by: bob.id)
            for (sender, files) in [(alice.id, [first.ref.id]), (alice.id, [pending.ref.id]), (alice.id, [bobs.ref.id]), (alice.id, ["f_nothing"])] {
                await #expect(throws: ParleyError.self) {
                    try await store.send(room: room, sender: sender, clientId: UUID().uuidString, text: "again", files: files, replyTo: nil)
                }
            }
            let plain = try await store.send(room: room, sender: bob.id, clientId: UUID().uuidString, text: "nice", files: [], replyTo: nil)
            #expect(plain.message.files == nil && plain.message.seq == sent.message.seq + 1)

            let history = try await store.messages(room: room, viewer: bob.id, page: Page(limit: 50))
            #expect(history.map { Set($0.files ?? []) } == [[first.ref, second.ref], []])
            #expect(try await store.file(first.ref.id, viewer: bob.id)?.messageSeq == sent.message.seq)
            #expect(try await store.file(first.ref.id, viewer: carol.id) == nil)

            let deleted = try await store.deleteMessage(room: room, seq: sent.message.seq, actor: alice.id)
            #expect(Set(deleted.removedFiles.map(\.ref)) == [first.ref, second.ref] && deleted.message.files == nil)
            #expect(try await store.file(first.ref.id, viewer: nil) == nil)
        }
    }

    @Test("files never sent are swept once old, and the others are kept", arguments: Backend.allCases)
    func sweep(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let room = try await store.addContact(owner: alice.id, username: bob.username).contact.room
            let old = Timestamp(milliseconds: Timestamp.now.milliseconds - 3_600_000)
            let forgotten = try await announce(store, room, by: alice.id, at: old)
            let sentOld = try await announce(store, room, by: alice.id, at: old)
            let fresh = try await announce(store, room, by: alice.id)
            _ = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "", files: [sentOld.ref.id], replyTo: nil)
            let cutoff = Timestamp(milliseconds: Timestamp.now.milliseconds - 60_000)
            #expect(try await store.sweepUnsentFiles(before: cutoff, limit: 10).map(\.ref) == [forgotten.ref])
            let kept = [try await store.file(fresh.ref.id, viewer: nil), try await store.file(sentOld.ref.id, viewer: nil)]
            #expect(kept.allSatisfy { $0 != nil })
        }
    }

    @Test("deleting a group puts its files' bytes in the trash, which is emptied once", arguments: Backend.allCases)
    func deletedRoomsTrashTheirBytes(backend: Backend) async throws {
        try await backend.withStore { store in
            let alice = try await store.makeUser("Alice")
            let bob = try await store.makeUser("Bob")
            let group = try await store.createGroup(owner: alice.id, name: "Photos", members: [bob.id]).room.id
            let sent = try await announce(store, group, by: alice.id)
            _ = try await store.send(room: group, sender: alice.id, clientId: UUID().uuidString, text: "", files: [sent.ref.id], replyTo: nil)
            let unsent = try await announce(store, group, by: bob.id)
            _ = try await store.deleteRoom(group, actor: alice.id)
            let trashed = Set(try await store.takeTrash(limit: 100))
            #expect(trashed == [sent.key, sent.uploadKey, unsent.key, unsent.uploadKey])
            #expect(try await store.takeTrash(limit: 100).isEmpty)
        }
    }
}
