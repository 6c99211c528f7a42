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

    @Test("the OpenAPI document names exactly the routes the router serves")
    func openAPIMatchesRoutes() async throws {
        var configuration = testConfiguration()
        configuration.migrate = false
        defer { removeSQLite(at: configuration.sqlitePath) }
        let store = try await makeStore(configuration, logger: .init(label: "test"))
        let router = try await withThrowingTaskGroup(of: Void.self) { group in
            // The store runs so that it closes its connection when the test is done with it.
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            let bus = try makeBus(configuration, logger: .init(label: "test"))
            let parts = NodeParts(configuration, store: store, bus: bus, tokens: await Tokens(secret: TestApp.secret), logger: .init(label: "test"))
            return try await buildRouter(parts, registry: .init())
        }
        let served = Set(
            router.routes.map { "\($0.method.rawValue.lowercased()) \($0.path.description.replacing(/:(\w+)/) { "{\($0.1)}" })" }
        )
        let document = try JSONSerialization.jsonObject(with: try OpenAPIDocument.bytes()) as? [String: Any]
        let paths = try #require(document?["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0) \(path)" } })
        #expect(served == documented)
        #expect(served.count > 20)
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
