import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("Operations")
struct OpsTests {
    @Test("healthz, readyz and metrics answer; unknown routes are JSON 404s")
    func probes() async throws {
        try await TestApp.run { client in
            let (health, body) = try await client.call(.get, "/healthz")
            #expect(health == .ok && body?["status"].string == "ok")
            let (ready, readyBody) = try await client.call(.get, "/readyz")
            #expect(ready == .ok && readyBody?["status"].string == "ready")
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
            let (missing, error) = try await client.call(.get, "/api/nothing-here")
            #expect(missing == .notFound && error?["error"]["code"].string == "not_found")
        }
    }

    @Test("a ws-role node serves no REST")
    func roles() async throws {
        var configuration = testConfiguration()
        configuration.role = .ws
        try await TestApp.run(configuration) { client in
            let (status, _) = try await client.call(.post, "/api/auth/register", json: ["username": "x"])
            #expect(status == .notFound)
            let (health, _) = try await client.call(.get, "/healthz")
            #expect(health == .ok)
        }
    }
}
