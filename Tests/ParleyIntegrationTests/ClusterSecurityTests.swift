import AsyncHTTPClient
import Foundation
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@Suite(
    "Throttles and revocations across nodes, on Postgres and Redis",
    .enabled(if: TestCluster.enabled, "needs PARLEY_TEST_DATABASE_URL and redis-server: run scripts/test"), .serialized)
struct ClusterSecurityTests {
    /// The status a call answered with: 200 for success.
    func status(_ call: () async throws -> Void) async -> Int {
        do {
            try await call()
            return 200
        } catch let error as ParleyClientError {
            return error.status
        } catch {
            return 0
        }
    }

    @Test("wrong passwords spread over two API nodes are counted once: the account locks on both")
    func loginGuessesAcrossNodes() async throws {
        try await TestCluster.with(api: 2, ws: 0) { cluster in
            _ = try await ParleyClient(baseURL: cluster.http("api-1")).register(username: "victim", password: "password123", name: "V")
            let nodes = [ParleyClient(baseURL: cluster.http("api-1")), ParleyClient(baseURL: cluster.http("api-2"))]
            for attempt in 0..<5 {
                #expect(await status { _ = try await nodes[attempt % 2].login(username: "victim", password: "guess-\(attempt)") } == 401)
            }
            // Either node now refuses even the right password until the backoff has passed.
            for node in nodes {
                #expect(await status { _ = try await node.login(username: "victim", password: "password123") } == 429)
            }
            // The backoff is time, and is waited out.
            try await Task.sleep(for: .seconds(1.2))
            #expect(await status { _ = try await nodes[1].login(username: "victim", password: "password123") } == 200)
        }
    }

    @Test("a logout on one API node ends the signed-out session's access tokens on the other at once, and no other's")
    func logoutAcrossNodes() async throws {
        try await TestCluster.with(api: 2, ws: 0) { cluster in
            let first = ParleyClient(baseURL: cluster.http("api-1"))
            let session = try await first.register(username: "leaver", password: "password123", name: "L")
            let other = ParleyClient(baseURL: cluster.http("api-1"))
            _ = try await other.login(username: "leaver", password: "password123")
            // api-2 has seen the session live, and would trust that for a while.
            #expect(try await me(at: cluster.http("api-2"), token: session.accessToken) == 200)
            try await first.logout()
            // Well within the 10 s that a node trusts a live answer for.
            try await waitUntil("api-2 refuses the logged-out session's token", within: .seconds(2)) {
                try await me(at: cluster.http("api-2"), token: session.accessToken) == 401
            }
            #expect(await status { _ = try await other.me() } == 200)
        }
    }

    /// The status of `GET /api/me` with `token`.
    func me(at base: String, token: String) async throws -> UInt {
        var request = HTTPClientRequest(url: base + "/api/me")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status.code
    }
}
