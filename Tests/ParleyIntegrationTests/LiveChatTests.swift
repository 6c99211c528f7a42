import Foundation
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@Suite("Replies, edits, reactions, mentions, shared read marks and calls in the timeline, live", .serialized)
struct LiveChatTests {
    @Test("what one person does with messages reaches the other live, and a user's devices share what is read")
    func liveChat() async throws {
        try await NodeProcess.withEmbedded { node in
            let pair = try await LivePair.make(api: node.baseURL, ws: [node.webSocketURL])
            let alice = try #require(pair.alice.rest.currentSession?.user)
            let bob = try #require(pair.bob.rest.currentSession?.user)
            // Bob's phone follows no room; his laptop (`pair.bob`) follows theirs.
            let phone = LiveClient(rest: pair.bob.rest, urls: [node.webSocketURL])
            try await withLive([pair.alice, pair.bob, phone]) {
                for client in [pair.alice, pair.bob, phone] { _ = try await client.connected() }
                try await pair.alice.follow(pair.room)
                try await pair.bob.follow(pair.room)

                let question = try await pair.alice.send(room: pair.room, text: "Lunch at noon?")
                let reply = try #require(
                    try await pair.bob.request(.send(room: pair.room, clientId: UUID().uuidString, text: "@\(alice.username) yes", replyTo: question.seq))
                        .message)
                #expect(reply.quoted == Quote(sender: alice.id, text: "Lunch at noon?", deleted: false))
                let seen = try await pair.alice.next { event -> Message? in
                    if case .message(let message) = event, message.seq == reply.seq { return message }
                    return nil
                }
                #expect(seen.replyTo == question.seq && seen.quoted?.snippet == "Lunch at noon?")

                // Alice's mention reaches Bob's phone, which follows no room.
                _ = try await pair.alice.send(room: pair.room, text: "see you, @\(bob.username)!")
                let mention = try await phone.next { event -> Mention? in
                    if case .event(.mention(let mention)) = event { return mention }
                    return nil
                }
                #expect(mention.room == pair.room && mention.sender == alice.id && mention.snippet == "see you, @\(bob.username)!")

                let edited = try #require(try await pair.alice.request(.edit(room: pair.room, seq: question.seq, text: "Lunch at one?")).message)
                #expect(edited.text == "Lunch at one?" && edited.editedAt != nil)
                let heard = try await pair.bob.next { event -> Message? in
                    if case .event(.messageEdited(let message)) = event { return message }
                    return nil
                }
                #expect(heard.seq == question.seq && heard.text == "Lunch at one?")
                await #expect(throws: (any Error).self) { try await pair.bob.request(.edit(room: pair.room, seq: question.seq, text: "mine now")) }

                _ = try await pair.bob.request(.react(room: pair.room, seq: question.seq, emoji: "👍"))
                let added = try await pair.alice.next { event -> ReactionChange? in
                    if case .event(.reactionAdded(let change)) = event { return change }
                    return nil
                }
                #expect(added == ReactionChange(room: pair.room, seq: question.seq, user: bob.id, emoji: "👍"))
                _ = try await pair.bob.request(.react(room: pair.room, seq: question.seq, emoji: "👍", remove: true))
                _ = try await pair.alice.next { event -> Bool? in
                    if case .event(.reactionRemoved(added)) = event { return true }
                    return nil
                }

                // Reading on the laptop clears the badge on the phone.
                let last = try await pair.bob.rest.rooms().first { $0.id == pair.room }!.lastSeq
                #expect(try await pair.bob.rest.rooms().first { $0.id == pair.room }?.unread == 1)
                _ = try await pair.bob.request(.read(room: pair.room, seq: last))
                let read = try await phone.next { event -> (Int64, Int64)? in
                    if case .event(.roomRead(pair.room, let seq, let unread)) = event { return (seq, unread) }
                    return nil
                }
                #expect(read == (last, 0))

                // A call Bob declines is in the timeline, as it starts and as it ends.
                let meeting = try #require(try await pair.alice.request(.meetingStart(room: pair.room)).meeting)
                _ = try await pair.bob.request(.meetingDecline(meeting: meeting.id))
                let calls = try await pair.bob.nextMessages(2).compactMap(\.call)
                #expect(calls == [CallEntry(meeting: meeting.id, outcome: .started), CallEntry(meeting: meeting.id, outcome: .declined)])
            }
        }
    }
}
