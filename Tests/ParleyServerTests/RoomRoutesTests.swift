import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ParleyServer

@Suite("Rooms and messages over REST")
struct RoomRoutesTests {
    @Test("two users become contacts and chat; history, unread and retries behave")
    func chat() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let bob = try await client.signUp("bob")
            let room = try await client.directRoom(alice, bob)
            let (again, _) = try await client.call(.post, "/api/contacts", headers: bob.auth, json: ["username": "alice"])
            #expect(again == .ok)

            let clientId = UUID().uuidString.lowercased()
            let (sent, message) = try await client.call(
                .post, "/api/rooms/\(room)/messages", headers: alice.auth, json: ["clientId": clientId, "text": "hi bob"])
            #expect(sent == .created && message?["seq"].number == 1 && message?["sender"].string == alice.user.id)
            let (retried, original) = try await client.call(
                .post, "/api/rooms/\(room)/messages", headers: alice.auth, json: ["clientId": clientId.uppercased(), "text": "hi bob"])
            #expect(retried == .ok && original == message)
            let (_, reply) = try await client.call(
                .post, "/api/rooms/\(room)/messages", headers: bob.auth, json: ["clientId": UUID().uuidString, "text": "hi alice"])
            #expect(reply?["seq"].number == 2)

            let (_, history) = try await client.call(.get, "/api/rooms/\(room)/messages?after=0&limit=10", headers: alice.auth)
            #expect(history?.array?.compactMap { $0["text"].string } == ["hi bob", "hi alice"])
            let (_, rooms) = try await client.call(.get, "/api/rooms", headers: alice.auth)
            #expect(rooms?[0]["unread"].number == 1 && rooms?[0]["lastMessage"]["text"].string == "hi alice")
            #expect(rooms?[0]["meeting"].isNull == true && rooms?[0]["peer"]["username"].string == "bob")
            let (read, _) = try await client.call(.post, "/api/rooms/\(room)/read", headers: alice.auth, json: ["seq": 2])
            #expect(read == .noContent)
            let (_, after) = try await client.call(.get, "/api/rooms", headers: alice.auth)
            #expect(after?[0]["unread"].number == 0)

            let (deleted, blank) = try await client.call(.delete, "/api/rooms/\(room)/messages/1", headers: alice.auth)
            #expect(deleted == .ok && blank?["text"].isNull == true && blank?["seq"].number == 1)
            let (notYours, _) = try await client.call(.delete, "/api/rooms/\(room)/messages/2", headers: alice.auth)
            #expect(notYours == .forbidden)
        }
    }

    @Test("a non-member gets 404 on every room route")
    func nonMemberSeesNothing() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let bob = try await client.signUp("bob")
            let eve = try await client.signUp("eve")
            let direct = try await client.directRoom(alice, bob)
            for room in [direct, try await Self.group(client, owner: alice, members: [bob])] {
                _ = try await client.call(
                    .post, "/api/rooms/\(room)/messages", headers: alice.auth, json: ["clientId": UUID().uuidString, "text": "x"])
                let routes: [(HTTPRequest.Method, String, [String: String]?)] = [
                    (.get, "/api/rooms/\(room)", nil),
                    (.patch, "/api/rooms/\(room)", ["name": "mine"]),
                    (.delete, "/api/rooms/\(room)", nil),
                    (.post, "/api/rooms/\(room)/members", ["userId": eve.user.id]),
                    (.patch, "/api/rooms/\(room)/members/\(bob.user.id)", ["role": "admin"]),
                    (.delete, "/api/rooms/\(room)/members/\(bob.user.id)", nil),
                    (.get, "/api/rooms/\(room)/messages", nil),
                    (.post, "/api/rooms/\(room)/messages", ["clientId": UUID().uuidString, "text": "let me in"]),
                    (.delete, "/api/rooms/\(room)/messages/1", nil),
                    (.post, "/api/rooms/\(room)/read", nil),
                ]
                for (method, path, body) in routes {
                    let json: (any Encodable)? = path.hasSuffix("/read") ? ["seq": 1] : body
                    let (status, error) = try await client.call(method, path, headers: eve.auth, json: json)
                    #expect(status == .notFound, "\(method) \(path)")
                    #expect(error?["error"]["code"].string == "not_found", "\(method) \(path)")
                }
                // An unknown room answers the same, so a non-member learns nothing.
                let (unknown, _) = try await client.call(.get, "/api/rooms/r_doesnotexist", headers: eve.auth)
                #expect(unknown == .notFound)
            }
            let (_, eveRooms) = try await client.call(.get, "/api/rooms", headers: eve.auth)
            #expect(eveRooms?.array?.isEmpty == true)
        }
    }

    @Test("groups: create, rename, manage members and leave")
    func groups() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let bob = try await client.signUp("bob")
            let carol = try await client.signUp("carol")
            let room = try await Self.group(client, owner: alice, members: [bob])

            let (renamed, detail) = try await client.call(.patch, "/api/rooms/\(room)", headers: alice.auth, json: ["name": "Crew"])
            #expect(renamed == .ok && detail?["room"]["name"].string == "Crew")
            let (denied, _) = try await client.call(.post, "/api/rooms/\(room)/members", headers: bob.auth, json: ["userId": carol.user.id])
            #expect(denied == .forbidden)
            let (added, member) = try await client.call(
                .post, "/api/rooms/\(room)/members", headers: alice.auth, json: ["userId": carol.user.id, "role": "admin"])
            #expect(added == .created && member?["role"].string == "admin")
            let (badRole, _) = try await client.call(
                .patch, "/api/rooms/\(room)/members/\(bob.user.id)", headers: alice.auth, json: ["role": "king"])
            #expect(badRole == .badRequest)

            let (left, _) = try await client.call(.delete, "/api/rooms/\(room)/members/\(alice.user.id)", headers: alice.auth)
            #expect(left == .noContent)
            let (_, now) = try await client.call(.get, "/api/rooms/\(room)", headers: carol.auth)
            #expect(now?["room"]["role"].string == "owner")
            let (gone, _) = try await client.call(.delete, "/api/rooms/\(room)", headers: carol.auth)
            #expect(gone == .noContent)
            let (_, bobRooms) = try await client.call(.get, "/api/rooms", headers: bob.auth)
            #expect(bobRooms?.array?.isEmpty == true)
        }
    }

    @Test("limits: text length, page size, seq and search query are checked")
    func limits() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let room = try await Self.group(client, owner: alice, members: [])
            let long = String(repeating: "x", count: 4001)
            let cases: [(HTTPRequest.Method, String, [String: String]?)] = [
                (.post, "/api/rooms/\(room)/messages", ["clientId": UUID().uuidString, "text": long]),
                (.post, "/api/rooms/\(room)/messages", ["clientId": "not-a-uuid", "text": "hi"]),
                (.get, "/api/rooms/\(room)/messages?limit=1000", nil),
                (.get, "/api/rooms/\(room)/messages?before=abc", nil),
                (.get, "/api/users?q=", nil),
            ]
            for (method, path, body) in cases {
                let (status, error) = try await client.call(method, path, headers: alice.auth, json: body)
                #expect(status == .badRequest, "\(path)")
                #expect(error?["error"]["code"].string == "invalid_field", "\(path)")
            }
            let (tooBig, error) = try await client.call(
                .post, "/api/rooms", headers: alice.auth, raw: #"{"name":""# + String(repeating: "x", count: 70_000) + #""}"#)
            #expect(tooBig == .contentTooLarge && error?["error"]["code"].string == "too_large")
        }
    }

    struct CreateGroup: Encodable {
        let name: String
        let members: [String]
    }

    static func group(_ client: some TestClientProtocol, owner: Account, members: [Account]) async throws -> String {
        let (status, body) = try await client.call(
            .post, "/api/rooms", headers: owner.auth, json: CreateGroup(name: "Team", members: members.map(\.user.id)))
        #expect(status == .created)
        return try #require(body?["room"]["id"].string)
    }
}
