import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Meetings and ICE servers over REST, embedded")
struct MeetingRoutesTests {
    @Test("start is 201 then 200 with the same meeting; accept, decline and end answer with the meeting; errors are JSON")
    func lifecycle() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let bob = try await client.signUp("bob")
            let carol = try await client.signUp("carol")
            let room = try await client.directRoom(alice, bob)

            let (created, meeting) = try await client.call(.post, "/api/rooms/\(room)/meetings", headers: alice.auth)
            #expect(created == .created && meeting?["state"].string == "ringing" && meeting?["host"].string == alice.user.id)
            let id = try #require(meeting?["id"].string)
            let (again, same) = try await client.call(.post, "/api/rooms/\(room)/meetings", headers: bob.auth)
            #expect(again == .ok && same?["id"].string == id)
            let (_, rooms) = try await client.call(.get, "/api/rooms", headers: bob.auth)
            #expect(rooms?[0]["meeting"]["id"].string == id)
            let (_, mine) = try await client.call(.get, "/api/meetings", headers: bob.auth)
            #expect(mine?.array?.map { $0["id"].string } == [id])

            let (hidden, error) = try await client.call(.get, "/api/meetings/\(id)", headers: carol.auth)
            #expect(hidden == .notFound && error?["error"]["code"].string == "not_found")
            let (accepted, active) = try await client.call(.post, "/api/meetings/\(id)/accept", headers: bob.auth)
            #expect(accepted == .ok && active?["state"].string == "active")
            let (ended, over) = try await client.call(.post, "/api/meetings/\(id)/end", headers: bob.auth)
            #expect(ended == .ok && over?["state"].string == "ended" && over?["endReason"].string == "ended")
            let (late, gone) = try await client.call(.post, "/api/meetings/\(id)/accept", headers: bob.auth)
            #expect(late == .gone && gone?["error"]["code"].string == "meeting_ended")
        }
    }

    @Test("/api/turn gives STUN as configured and TURN credentials in coturn's REST scheme")
    func turn() async throws {
        var configuration = testConfiguration()
        configuration.stunURIs = ["stun:stun.example.test:3478"]
        configuration.turnURIs = ["turn:turn.example.test:3478?transport=udp"]
        configuration.turnSecret = "north"
        configuration.turnTTL = 600
        try await TestApp.run(configuration) { client in
            let alice = try await client.signUp("alice")
            let (status, answer) = try await client.call(.get, "/api/turn", headers: alice.auth)
            #expect(status == .ok && answer?["ttl"].number == 600)
            #expect(answer?["iceServers"][0]["urls"][0].string == "stun:stun.example.test:3478")
            let turn = try #require(answer?["iceServers"][1])
            let username = try #require(turn["username"].string)
            let parts = username.split(separator: ":")
            #expect(parts.count == 2 && parts[1] == alice.user.id[...])
            let expiry = try #require(Double(parts[0]))
            #expect(abs(expiry - Date().timeIntervalSince1970 - 600) < 60)
            #expect(turn["credential"].string == ICEServers.password(username: username, secret: "north"))
            let (refused, _) = try await client.call(.get, "/api/turn")
            #expect(refused == .unauthorized)
        }
    }

    @Test("coturn's password is base64 HMAC-SHA1 of the username under the shared secret")
    func password() {
        // Computed independently: printf '%s' '1700000000:u_1' | openssl dgst -sha1 -hmac north -binary | base64
        #expect(ICEServers.password(username: "1700000000:u_1", secret: "north") == "gWSIafYjexbLbjGXTCVXKu3O+Yw=")
    }
}
