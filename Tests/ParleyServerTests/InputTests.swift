import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("What REST takes in")
struct InputTests {
    @Test("a body that is not application/json is 415; a byte-order mark or a trailing comma is 400, as over WebSocket")
    func strictJSON() async throws {
        try await TestApp.run { client in
            let login = #"{"username":"alice","password":"password123"}"#
            let (plain, plainBody) = try await client.call(.post, "/api/auth/login", headers: [.contentType: "text/plain"], raw: login)
            #expect(plain == .unsupportedMediaType && plainBody?["error"]["code"].string == "unsupported_media_type")
            let (none, _) = try await client.call(.post, "/api/auth/login", headers: [.contentType: "application/x-www-form-urlencoded"], raw: login)
            #expect(none == .unsupportedMediaType)
            for raw in ["\u{FEFF}" + login, #"{"username":"alice","password":"password123",}"#] {
                let (status, body) = try await client.call(.post, "/api/auth/login", raw: raw)
                #expect(status == .badRequest && body?["error"]["code"].string == "bad_request", "\(raw)")
            }
            let (charset, _) = try await client.call(.post, "/api/auth/login", headers: [.contentType: "Application/JSON; charset=utf-8"], raw: login)
            #expect(charset == .unauthorized)
        }
    }

    @Test("a control character anywhere a string enters is invalid_field: body, query and path, logins included")
    func controls() async throws {
        try await TestApp.run { client in
            let alice = try await client.signUp("alice")
            let bodies: [(String, [String: String])] = [
                ("/api/auth/login", ["username": "alice\u{0}", "password": "password123"]),
                ("/api/auth/register", ["username": "bob", "password": String(repeating: "\u{0}", count: 8), "name": "Bob"]),
                ("/api/auth/register", ["username": "bob", "password": "password123", "name": "Bo\u{1B}b"]),
            ]
            for (path, body) in bodies {
                let (status, answer) = try await client.call(.post, path, json: body)
                #expect(status == .badRequest && answer?["error"]["code"].string == "invalid_field", "\(path) \(body)")
            }
            for uri in ["/api/users?q=%00", "/api/users?q=a%0Db", "/api/rooms/%00", "/api/rooms/r%C2%85", "/api/users?q=al&%01=1"] {
                let (status, answer) = try await client.call(.get, uri, headers: alice.auth)
                #expect(status == .badRequest && answer?["error"]["code"].string == "invalid_field", "\(uri)")
            }
        }
    }

    @Test("every response carries the CSP, nosniff, no referrer and no framing: a route, an error and a static file")
    func securityHeaders() async throws {
        try await TestApp.run { client in
            for uri in ["/healthz", "/api/me", "/", "/api/nowhere"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.headers[.contentSecurityPolicy] == SecurityHeaders.contentSecurityPolicy, "\(uri)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                    #expect(response.headers[.xContentTypeOptions] == "nosniff" && response.headers[.referrerPolicy] == "no-referrer")
                }
            }
        }
    }
}
