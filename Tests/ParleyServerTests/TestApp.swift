import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyServer

/// An embedded node on a fresh SQLite file, with a known signing key and a cheap password cost.
func testConfiguration() -> Configuration {
    var configuration = Configuration()
    configuration.sqlitePath = scratchSQLitePath("parley")
    configuration.jwtSecret = TestApp.secret
    configuration.passwordCost = 4
    configuration.migrate = true
    return configuration
}

enum TestApp {
    static let secret = testSigningKey

    /// Runs `body` against a router-level test client of a whole node, and removes the node's SQLite file afterwards.
    static func run<R: Sendable>(
        _ configuration: Configuration = testConfiguration(), _ body: @Sendable (any TestClientProtocol) async throws -> R
    ) async throws -> R {
        defer { removeSQLite(at: configuration.sqlitePath) }
        let app = try await buildApplication(configuration)
        return try await app.test(.router, body)
    }
}

/// A signed-up user, as a test holds them.
struct Account: Sendable {
    let user: User
    let accessToken: String
    let refreshToken: String

    var auth: HTTPFields { [.authorization: "Bearer \(accessToken)"] }
}

extension TestClientProtocol {
    /// Sends `body` as JSON and returns the status and the decoded answer, or nil for an empty answer.
    func call<Response: Decodable>(
        _ method: HTTPRequest.Method, _ uri: String, as: Response.Type = JSONValue.self, headers: HTTPFields = [:],
        json body: (any Encodable)? = nil, raw: String? = nil
    ) async throws -> (status: HTTPResponse.Status, body: Response?) {
        let buffer = try raw.map { ByteBuffer(string: $0) } ?? body.map { ByteBuffer(bytes: try JSONEncoder().encode($0)) }
        var headers = headers
        if buffer != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: buffer) { response in
            let decoded = response.body.readableBytes == 0 ? nil : try JSONDecoder().decode(Response.self, from: response.body)
            return (response.status, decoded)
        }
    }

    func signUp(_ username: String, password: String = "password123") async throws -> Account {
        let (status, body) = try await call(
            .post, "/api/auth/register", json: ["username": username, "password": password, "name": username.capitalized])
        #expect(status == .created)
        let session = try #require(body)
        return Account(
            user: User(id: session["user"]["id"].string!, username: session["user"]["username"].string!, name: session["user"]["name"].string!),
            accessToken: session["accessToken"].string!, refreshToken: session["refreshToken"].string!)
    }

    /// Makes two users contacts and returns their direct room.
    func directRoom(_ a: Account, _ b: Account) async throws -> String {
        let (status, body) = try await call(.post, "/api/contacts", headers: a.auth, json: ["username": b.user.username])
        #expect(status == .created)
        return try #require(body?["room"].string)
    }
}
