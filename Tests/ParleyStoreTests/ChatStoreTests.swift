import Foundation
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyStore

@Suite("Replies, edits, reactions, mentions, search and calls in the timeline, on every store", .serialized)
struct ChatStoreTests {
    /// Alice and Bob with their direct room.
    struct Pair {
        let alice: User
        let bob: User
        let room: String
    }

    static func pair(_ store: SQLStore) async throws -> Pair {
        let alice = try await store.makeUser("Alice")
        let bob = try await store.makeUser("Bob")
        return Pair(alice: alice, bob: bob, room: try await store.addContact(owner: alice.id, username: bob.username).contact.room)
    }

    static func say(_ store: SQLStore, _ text: String, as sender: User, in room: String, replyTo: Int64? = nil) async throws -> Message {
        try await store.send(room: room, sender: sender.id, clientId: UUID().uuidString, text: text, files: [], replyTo: replyTo).message
    }

    @Test("a reply quotes who it answers and how that message reads now, through edits and its deletion", arguments: Backend.allCases)
    func replies(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let question = try await Self.say(store, "Lunch at noon?", as: people.alice, in: people.room)
            let answer = try await Self.say(store, "Yes!", as: people.bob, in: people.room, replyTo: question.seq)
            #expect(answer.replyTo == question.seq)
            #expect(answer.quoted == Quote(sender: people.alice.id, text: "Lunch at noon?", deleted: false))

            _ = try await store.editMessage(room: people.room, seq: question.seq, actor: people.alice.id, text: "Lunch at one?")
            var page = try await store.messages(room: people.room, viewer: people.bob.id, page: Page())
            #expect(page.last?.quoted?.snippet == "Lunch at one?")

            _ = try await store.deleteMessage(room: people.room, seq: question.seq, actor: people.alice.id)
            page = try await store.messages(room: people.room, viewer: people.bob.id, page: Page())
            #expect(page.last?.quoted == Quote(sender: people.alice.id, text: nil, deleted: true))
            // A deleted message, one of another room, or one not sent yet, is nothing to answer.
            for target in [question.seq, 99] {
                await expectError(.invalidField) { try await Self.say(store, "late", as: people.bob, in: people.room, replyTo: target) }
            }
            // A long message is quoted by its start.
            let long = try await Self.say(store, String(repeating: "a", count: 400), as: people.alice, in: people.room)
            let reply = try await Self.say(store, "tl;dr", as: people.bob, in: people.room, replyTo: long.seq)
            #expect(reply.quoted?.snippet?.count == Quote.snippetLength)
        }
    }

    @Test("only its sender edits a message; an edit keeps the seq, marks it edited and commits message.edited", arguments: Backend.allCases)
    func edits(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let message = try await Self.say(store, "helo", as: people.alice, in: people.room)
            await expectError(.forbidden) { try await store.editMessage(room: people.room, seq: message.seq, actor: people.bob.id, text: "x") }
            await expectError(.notFound) { try await store.editMessage(room: people.room, seq: 42, actor: people.alice.id, text: "x") }

            let edited = try await store.editMessage(room: people.room, seq: message.seq, actor: people.alice.id, text: "hello")
            #expect(edited.created)
            #expect(edited.message.seq == message.seq && edited.message.text == "hello" && edited.message.editedAt != nil)
            #expect(edited.outbox?.payload.contains("\"type\":\"message.edited\"") == true)
            let again = try await store.editMessage(room: people.room, seq: message.seq, actor: people.alice.id, text: "hello")
            #expect(!again.created && again.outbox == nil)
            let stored = try await store.messages(room: people.room, viewer: people.bob.id, page: Page())
            #expect(stored.map(\.text) == ["hello"] && stored[0].editedAt == edited.message.editedAt)

            _ = try await store.deleteMessage(room: people.room, seq: message.seq, actor: people.alice.id)
            await expectError(.invalidField) { try await store.editMessage(room: people.room, seq: message.seq, actor: people.alice.id, text: "back") }
        }
    }

    @Test("reactions count per emoji, once per member, and go with a deleted message", arguments: Backend.allCases)
    func reactions(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let carol = try await store.makeUser("Carol")
            let message = try await Self.say(store, "shipped", as: people.alice, in: people.room)
            let react = { (user: User, emoji: String, on: Bool) in
                try await store.react(room: people.room, seq: message.seq, user: user.id, emoji: emoji, on: on)
            }
            #expect(try await react(people.bob, "🎉", true)?.payload.contains("\"type\":\"reaction.added\"") == true)
            #expect(try await react(people.bob, "🎉", true) == nil)
            #expect(try await react(people.alice, "🎉", true) != nil)
            #expect(try await react(people.alice, "👍🏽", true) != nil)
            await expectError(.notFound) { try await react(carol, "🎉", true) }

            var stored = try await store.messages(room: people.room, viewer: people.alice.id, page: Page())[0]
            #expect(stored.reactions == [Reaction(emoji: "🎉", users: [people.bob.id, people.alice.id]), Reaction(emoji: "👍🏽", users: [people.alice.id])])

            #expect(try await react(people.bob, "🎉", false)?.payload.contains("\"type\":\"reaction.removed\"") == true)
            #expect(try await react(people.bob, "🎉", false) == nil)
            stored = try await store.messages(room: people.room, viewer: people.alice.id, page: Page())[0]
            #expect(stored.reactions?.map(\.count) == [1, 1])

            _ = try await store.deleteMessage(room: people.room, seq: message.seq, actor: people.alice.id)
            stored = try await store.messages(room: people.room, viewer: people.alice.id, page: Page())[0]
            #expect(stored.reactions == nil)
            await expectError(.invalidField) { try await react(people.bob, "🎉", true) }
            #expect(try await react(people.alice, "👍🏽", false) == nil)
        }
    }

    @Test("a message holds at most 20 different emoji, and anyone may add to one already there", arguments: Backend.allCases)
    func emojiLimit(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let message = try await Self.say(store, "vote", as: people.alice, in: people.room)
            let emoji = (0..<Limits.emojisPerMessage).map { String(UnicodeScalar(0x1F600 + $0)!) }
            for one in emoji { _ = try await store.react(room: people.room, seq: message.seq, user: people.alice.id, emoji: one, on: true) }
            await expectError(.invalidField) {
                try await store.react(room: people.room, seq: message.seq, user: people.bob.id, emoji: "🦄", on: true)
            }
            #expect(try await store.react(room: people.room, seq: message.seq, user: people.bob.id, emoji: emoji[0], on: true) != nil)
        }
    }

    @Test("a mention reaches members named, not the sender and not outsiders", arguments: Backend.allCases)
    func mentions(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let carol = try await store.makeUser("Carol")
            let text = "@\(people.bob.username) and @\(carol.username), ask @\(people.alice.username)"
            let mentioned = try await store.mentioned(Mention.usernames(in: text), in: people.room, by: people.alice.id)
            #expect(mentioned == [people.bob.id])
        }
    }

    @Test("search finds words by their start in the caller's rooms, best match first, never a deleted message", arguments: Backend.allCases)
    func search(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let carol = try await store.makeUser("Carol")
            let other = try await store.addContact(owner: people.bob.id, username: carol.username).contact.room
            let deploy = try await Self.say(store, "The deploy is done", as: people.alice, in: people.room)
            let twice = try await Self.say(store, "deploy deploy: deployment notes", as: people.bob, in: people.room)
            _ = try await Self.say(store, "unrelated words", as: people.alice, in: people.room)
            let secret = try await Self.say(store, "deploy secrets", as: people.bob, in: other)
            let gone = try await Self.say(store, "deploy soon", as: people.alice, in: people.room)
            _ = try await store.deleteMessage(room: people.room, seq: gone.seq, actor: people.alice.id)

            let found = try await store.search(try SearchQuery("Deplo", room: nil, limit: nil, offset: nil), viewer: people.alice.id)
            #expect(found.map(\.seq) == [twice.seq, deploy.seq])
            let bobs = try await store.search(try SearchQuery("deploy", room: nil, limit: nil, offset: nil), viewer: people.bob.id)
            #expect(Set(bobs.map(\.room)) == [people.room, other] && bobs.count == 3)
            let inRoom = try await store.search(try SearchQuery("deploy", room: other, limit: nil, offset: nil), viewer: people.bob.id)
            #expect(inRoom.map(\.seq) == [secret.seq])
            await expectError(.notFound) { try await store.search(try SearchQuery("deploy", room: other, limit: nil, offset: nil), viewer: people.alice.id) }
            // Every word must be there; the page and the next one.
            #expect(try await store.search(try SearchQuery("deploy done", room: nil, limit: nil, offset: nil), viewer: people.alice.id).map(\.seq) == [deploy.seq])
            let first = try await store.search(try SearchQuery("deploy", room: nil, limit: 1, offset: 0), viewer: people.bob.id)
            let second = try await store.search(try SearchQuery("deploy", room: nil, limit: 1, offset: 1), viewer: people.bob.id)
            #expect(first.count == 1 && second.count == 1 && first != second)
            // An edit is found by its new words only.
            _ = try await store.editMessage(room: people.room, seq: deploy.seq, actor: people.alice.id, text: "The release is done")
            #expect(try await store.search(try SearchQuery("release", room: nil, limit: nil, offset: nil), viewer: people.alice.id).map(\.seq) == [deploy.seq])
            #expect(try await store.search(try SearchQuery("deploy", room: nil, limit: nil, offset: nil), viewer: people.alice.id).map(\.seq) == [twice.seq])
        }
    }

    @Test("a call starts and ends in the room's timeline: answered with its duration, declined, cancelled, missed", arguments: Backend.allCases)
    func callsInTimeline(backend: Backend) async throws {
        try await backend.withStore { store in
            let people = try await Self.pair(store)
            let (alice, bob, room) = (people.alice.id, people.bob.id, people.room)

            let answered = try await store.startMeeting(room: room, host: alice, ringSeconds: 45).change
            #expect(answered.timeline?.payload.contains("\"outcome\":\"started\"") == true)
            _ = try await store.acceptMeeting(answered.meeting.id, user: bob)
            try await Task.sleep(for: .milliseconds(30))
            let ended = try await store.endMeeting(answered.meeting.id, actor: alice)
            #expect(ended.timeline?.payload.contains("\"outcome\":\"answered\"") == true)

            let declined = try await store.startMeeting(room: room, host: alice, ringSeconds: 45).change.meeting
            _ = try await store.declineMeeting(declined.id, user: bob)
            let cancelled = try await store.startMeeting(room: room, host: alice, ringSeconds: 45).change.meeting
            _ = try await store.declineMeeting(cancelled.id, user: alice)
            let missed = try await store.startMeeting(room: room, host: alice, ringSeconds: 0).change.meeting
            let expired = try await store.expireRings(now: Timestamp.now.adding(seconds: 1))
            #expect(expired.map(\.meeting.id) == [missed.id] && expired[0].timeline != nil)

            let timeline = try await store.messages(room: room, viewer: bob, page: Page())
            #expect(timeline.map(\.seq) == Array(1...8))
            #expect(timeline.allSatisfy { $0.sender == alice && $0.text == nil })
            #expect(timeline.map { $0.call?.outcome } == [.started, .answered, .started, .declined, .started, .cancelled, .started, .missed])
            #expect(timeline.map { $0.call?.meeting } == [answered.meeting.id, answered.meeting.id, declined.id, declined.id, cancelled.id, cancelled.id, missed.id, missed.id])
            let duration = try #require(timeline[1].call?.durationMs)
            #expect(duration >= 30 && duration < 10_000)

            // Bob missed two calls (one given up on); Alice, who called, has nothing unread.
            let bobs = try await store.rooms(of: bob)[0]
            #expect(bobs.unread == 2 && bobs.missedCalls == 2 && bobs.lastRead == 0)
            let alices = try await store.rooms(of: alice)[0]
            #expect(alices.unread == 0 && alices.missedCalls == 0 && alices.lastRead == 8)
            #expect(alices.lastMessage?.call?.outcome == .missed)
            // Reading up to the cancelled call leaves the missed one.
            #expect(try await store.markRead(room: room, user: bob, seq: 6) == 1)
            #expect(try await store.markRead(room: room, user: bob, seq: 6) == nil)
            #expect(try await store.markRead(room: room, user: bob, seq: 2) == nil)
            let read = try await store.rooms(of: bob)[0]
            #expect(read.unread == 1 && read.missedCalls == 1 && read.lastRead == 6)
            // A deleted entry says nothing of its call any more, and the missed call it told of is no longer counted.
            _ = try await store.deleteMessage(room: room, seq: 8, actor: alice)
            let gone = try await store.messages(room: room, viewer: bob, page: Page(after: 7))
            #expect(gone.count == 1 && gone[0].isDeleted && gone[0].call == nil)
            #expect(try await store.rooms(of: bob)[0].missedCalls == 0)
        }
    }
}
