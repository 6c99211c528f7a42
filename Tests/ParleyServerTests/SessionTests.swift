import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyBus
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("Sessions and throttled sign-in over REST")
struct SessionTests {
    func login(_ client: some TestClientProtocol, _ password: String = "password123", cookie: Bool = false) async throws -> (
        status: HTTPResponse.Status, body: JSONValue?
    ) {
        var body: [String: JSONValue] = ["username": .string("alice"), "password": .string(password)]
        if cookie { body["cookie"] = .bool(true) }
        return try await client.call(.post, "/api/auth/login", json: body)
    }

    @Test("logout ends the signed-out session's access tokens at once and no other's; everywhere ends them all")
    func logoutRevokes() async throws {
        try await TestApp.run { client in
            let first = try await client.signUp("alice")
            let second = try #require(try await login(client).body)
            let secondAuth: HTTPFields = [.authorization: "Bearer \(second["accessToken"].string!)"]
            let (out, _) = try await client.call(.post, "/api/auth/logout", json: ["refreshToken": first.refreshToken])
            #expect(out == .noContent)
            #expect(try await client.call(.get, "/api/me", headers: first.auth).status == .unauthorized)
            #expect(try await client.call(.get, "/api/me", headers: secondAuth).status == .ok)

            let third = try #require(try await login(client).body)
            let everywhere: [String: JSONValue] = ["refreshToken": third["refreshToken"], "everywhere": .bool(true)]
            #expect(try await client.call(.post, "/api/auth/logout", json: everywhere).status == .noContent)
            #expect(try await client.call(.get, "/api/me", headers: secondAuth).status == .unauthorized)
            let (refresh, _) = try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": second["refreshToken"]])
            #expect(refresh == .unauthorized)
        }
    }

    @Test("a refresh token presented twice ends its session at once, on the node's cached answer too")
    func reuseEndsTheSession() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let (_, rotated) = try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": alice.refreshToken])
            let fresh: HTTPFields = [.authorization: "Bearer \(try #require(rotated?["accessToken"].string))"]
            // The node now holds the session as live, and would trust that for 10 s.
            #expect(try await client.call(.get, "/api/me", headers: fresh).status == .ok)
            #expect(try await client.call(.post, "/api/auth/refresh", json: ["refreshToken": alice.refreshToken]).status == .unauthorized)
            #expect(try await client.call(.get, "/api/me", headers: fresh).status == .unauthorized)
        }
    }

    @Test("a browser's refresh token lives in an HttpOnly, Secure, SameSite=Strict cookie for /api/auth, never in the JSON")
    func refreshCookie() async throws {
        try await TestApp.run { client in
            _ = try await client.signUp("alice")
            let cookie = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"username":"alice","password":"password123","cookie":true}"#)
            ) { response in
                #expect(response.status == .ok)
                let body = try JSONDecoder().decode(JSONValue.self, from: response.body)
                #expect(body["refreshToken"].isNull && body["accessToken"].string != nil)
                return try #require(response.headers[.setCookie])
            }
            for attribute in ["Path=/api/auth", "HttpOnly", "Secure", "SameSite=Strict"] { #expect(cookie.contains(attribute), "\(attribute)") }
            let value = String(cookie.split(separator: ";")[0])
            let rotated = try await client.execute(
                uri: "/api/auth/refresh", method: .post, headers: [.contentType: "application/json", .cookie: value], body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.status == .ok)
                return String(try #require(response.headers[.setCookie]).split(separator: ";")[0])
            }
            #expect(rotated != value && rotated.hasPrefix("parley_refresh="))
            try await client.execute(
                uri: "/api/auth/logout", method: .post, headers: [.contentType: "application/json", .cookie: rotated], body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.status == .noContent && response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
            let (again, _) = try await client.call(.post, "/api/auth/refresh", headers: [.cookie: rotated], json: [String: String]())
            #expect(again == .unauthorized)
        }
    }

    @Test("after a handful of wrong passwords the account is locked with 429 and Retry-After, the right one too, until the backoff passes")
    func loginBackoff() async throws {
        try await TestApp.run { client in
            _ = try await client.signUp("alice")
            for _ in 1...5 { #expect(try await login(client, "wrong-password").status == .unauthorized) }
            let (locked, body) = try await login(client)
            #expect(locked == .tooManyRequests && body?["error"]["code"].string == "rate_limited")
            let retryAfter = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"username":"alice","password":"password123"}"#)
            ) { Int($0.headers[.retryAfter] ?? "") }
            #expect(retryAfter == 1)
            // An unknown account is answered as a wrong password, and counts the same.
            let (unknown, unknownBody) = try await client.call(.post, "/api/auth/login", json: ["username": "nobody", "password": "password123"])
            #expect(unknown == .unauthorized && unknownBody?["error"]["code"].string == "unauthorized")
            // The backoff is time: it is waited out, as the client told to retry after a second would.
            try await Task.sleep(for: .seconds(1.2))
            #expect(try await login(client).status == .ok)
            // The success forgot the failures: one more wrong password does not lock.
            #expect(try await login(client, "wrong-password").status == .unauthorized)
            #expect(try await login(client).status == .ok)
        }
    }

    @Test("registrations per address, and rooms created per user, are limited with 429")
    func rateLimits() async throws {
        var configuration = testConfiguration()
        configuration.limits.registrations = 2
        configuration.limits.creations = 1
        try await TestApp.run(configuration) { client in
            let alice = try await client.signUp("alice")
            _ = try await client.signUp("bob")
            let (third, body) = try await client.call(
                .post, "/api/auth/register", json: ["username": "carol", "password": "password123", "name": "Carol"])
            #expect(third == .tooManyRequests && body?["error"]["code"].string == "rate_limited")
            #expect(try await client.call(.post, "/api/rooms", headers: alice.auth, json: ["name": "One"]).status == .created)
            #expect(try await client.call(.post, "/api/rooms", headers: alice.auth, json: ["name": "Two"]).status == .tooManyRequests)
        }
    }

    @Test("a node asks the store again once its live answer is old, and a revocation it hears ends the session at once")
    func liveAnswers() async throws {
        try await withSQLiteStore { store in
            let alice = try await store.createUser(username: "alice", name: "Alice", passwordHash: "h")
            let expiry = Timestamp.now.adding(seconds: 3600)
            try await store.insertRefreshToken(RefreshToken(hash: "t1", userId: alice.id, familyId: "f1", expiresAt: expiry))
            let bus = LocalBus()
            let sessions = Sessions(store: store, bus: bus, tokenLifetime: .seconds(900), liveFor: .seconds(2), logger: .init(label: "test"))
            let access = Tokens.Access(userId: alice.id, session: "f1", expiresAt: .distantFuture)
            try await sessions.require(access)
            // A live answer ages in time: its 2 s are waited out, here and below. Long enough that a loaded machine's
            // revocation below still comes while the answer is young.
            try await Task.sleep(for: .milliseconds(2100))
            try await sessions.require(access)
            _ = try await store.revokeRefreshToken(hash: "t1", now: .now)
            // Revoked in the store but not announced: the node trusts its answer until it is old.
            try await sessions.require(access)
            try await Task.sleep(for: .milliseconds(2100))
            await #expect(throws: ParleyError.self) { try await sessions.require(access) }

            try await store.insertRefreshToken(RefreshToken(hash: "t2", userId: alice.id, familyId: "f2", expiresAt: expiry))
            let other = Tokens.Access(userId: alice.id, session: "f2", expiresAt: .distantFuture)
            try await sessions.require(other)
            sessions.receive(try Frames.encode(.sessionsRevoked(["f2"])))
            await #expect(throws: ParleyError.self) { try await sessions.require(other) }
        }
    }
}

@Suite("Password hashing's bound")
struct PasswordGateTests {
    @Test("past the hashes running and the queue waiting, a request is told to come back: 503 with Retry-After")
    func bounded() async throws {
        let gate = PasswordHasher.Gate(capacity: 1, queue: 1)
        let release = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // One runs and holds its place; one waits behind it.
            for _ in 0..<2 { group.addTask { try await gate.run { await release.pass() } } }
            try await waitUntil("one runs and holds its place") { release.waiting == 1 }
            try await waitUntil("the second waits its turn") { gate.waiting == 1 }
            await #expect(throws: ParleyError(.unavailable, "the server is busy checking passwords: try again", retryAfter: 1)) {
                try await gate.run {}
            }
            release.open()
            try await group.waitForAll()
        }
        // Once they are done, the next runs at once.
        try await gate.run {}
    }
}
