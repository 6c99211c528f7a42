import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import Testing

@testable import ParleyServer

@Suite("Auth over REST")
struct AuthTests {
    @Test("register, log in, refresh and see yourself")
    func signUpAndIn() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let (meStatus, me) = try await client.call(.get, "/api/me", headers: alice.auth)
            #expect(meStatus == .ok && me?["username"].string == "alice" && me?["id"].string == alice.user.id)

            let (wrong, wrongBody) = try await client.call(.post, "/api/auth/login", json: ["username": "alice", "password": "nope-nope"])
            #expect(wrong == .unauthorized && wrongBody?["error"]["code"].string == "unauthorized")
            let (unknown, _) = try await client.call(.post, "/api/auth/login", json: ["username": "nobody", "password": "password123"])
            #expect(unknown == .unauthorized)
            let (ok, session) = try await client.call(.post, "/api/auth/login", json: ["username": "ALICE", "password": "password123"])
            #expect(ok == .ok && session?["user"]["id"].string == alice.user.id && session?["expiresIn"].number == 900)
        }
    }

    @Test("a taken username is 409 and bad fields are 400, each with a JSON error")
    func registrationErrors() async throws {
        try await TestApp.run { client in
            _ = try await client.signUp("alice")
            let cases: [([String: String], HTTPResponse.Status, String)] = [
                (["username": "alice", "password": "password123", "name": "A"], .conflict, "conflict"),
                (["username": "a", "password": "password123", "name": "A"], .badRequest, "invalid_field"),
                (["username": "bob", "password": "short", "name": "B"], .badRequest, "invalid_field"),
                (["username": "bob", "password": "password123", "name": " "], .badRequest, "invalid_field"),
                (["username": "bob", "password": "password123"], .badRequest, "bad_request"),
            ]
            for (body, status, code) in cases {
                let (answer, error) = try await client.call(.post, "/api/auth/register", json: body)
                #expect(answer == status, "\(body)")
                #expect(error?["error"]["code"].string == code, "\(body)")
                #expect(error?["error"]["message"].string?.isEmpty == false)
            }
        }
    }

    @Test("malformed JSON is 400, never 500")
    func malformedJSON() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            for raw in ["{bad", "", "[]", "null", #"{"username": 5}"#, String(repeating: "[", count: 10_000)] {
                let (status, body) = try await client.call(.post, "/api/auth/register", raw: raw)
                #expect(status == .badRequest, "\(raw.prefix(20))")
                #expect(body?["error"]["code"].string == "bad_request")
                let (roomStatus, _) = try await client.call(.post, "/api/rooms", headers: alice.auth, raw: raw)
                #expect(roomStatus == .badRequest)
            }
        }
    }

    @Test("an expired, wrongly signed, unsigned or missing token is 401, and so is a signed one for no live session or user")
    func badTokens() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let tokens = await Tokens(secret: TestApp.secret)
            let session = try await tokens.verify(alice.accessToken).session
            let expired = try await tokens.accessToken(for: alice.user.id, session: session, now: Date().addingTimeInterval(-16 * 60))
            let forged = try await Tokens(secret: "another-signing-key-of-32-bytes-or-more").accessToken(for: alice.user.id, session: session)
            let noSession = try await tokens.accessToken(for: alice.user.id, session: "f_none")
            let noUser = try await tokens.accessToken(for: "u_gone", session: session)
            let parts = alice.accessToken.split(separator: ".")
            let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.\(parts[1])."
            let tampered = "\(parts[0]).\(parts[1].dropLast(2))xx.\(parts[2])"
            for token in [expired, forged, unsigned, tampered, "garbage", noSession, noUser] {
                let (status, body) = try await client.call(.get, "/api/me", headers: [.authorization: "Bearer \(token)"])
                let (created, _) = try await client.call(.post, "/api/rooms", headers: [.authorization: "Bearer \(token)"], json: ["name": "G"])
                #expect(created == .unauthorized)
                #expect(status == .unauthorized)
                #expect(body?["error"]["code"].string == "unauthorized")
            }
            let (missing, _) = try await client.call(.get, "/api/rooms")
            #expect(missing == .unauthorized)
            let (valid, _) = try await client.call(.get, "/api/me", headers: alice.auth)
            #expect(valid == .ok)
        }
    }

    @Test("a rotated refresh token cannot be used twice; reusing it ends the session, and so does logout")
    func refreshRotation() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let (first, rotated) = try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": alice.refreshToken])
            #expect(first == .ok)
            let next = try #require(rotated?["refreshToken"].string)
            #expect(next != alice.refreshToken)
            let (fresh, _) = try await client.call(.get, "/api/me", headers: [.authorization: "Bearer \(rotated!["accessToken"].string!)"])
            #expect(fresh == .ok)

            let (reused, _) = try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": alice.refreshToken])
            #expect(reused == .unauthorized)
            let (afterTheft, _) = try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": next])
            #expect(afterTheft == .unauthorized)

            let (_, login) = try await client.call(.post, "/api/auth/login", json: ["username": "alice", "password": "password123"])
            let token = try #require(login?["refreshToken"].string)
            let (out, _) = try await client.call(.post, "/api/auth/logout", json: ["refreshToken": token])
            #expect(out == .noContent)
            let (revoked, _) = try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": token])
            #expect(revoked == .unauthorized)
        }
    }
}
