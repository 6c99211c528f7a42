import Foundation
import Hummingbird
import Logging
import ParleyCore
import ParleyStore
import Prometheus

/// Liveness, readiness, metrics and the OpenAPI document: the routes that operators and load balancers use.
struct OpsController {
    let store: any Store
    let registry: PrometheusCollectorRegistry
    let nodeId: String
    let role: Configuration.Role
    let drain: NodeDrain

    struct Status: Codable, Sendable {
        let status: String
        let node: String
        let role: String
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("healthz", use: healthz)
        router.get("readyz", use: readyz)
        router.get("metrics", use: metrics)
        router.get("api/openapi.json", use: openAPI)
    }

    @Sendable func healthz(_ request: Request, context: AppRequestContext) -> JSONBody<Status> {
        JSONBody(Status(status: "ok", node: nodeId, role: role.rawValue))
    }

    /// Ready while the store answers and the node is not draining; a load balancer takes the node out of rotation
    /// otherwise.
    @Sendable func readyz(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Status> {
        guard !drain.isDraining else { throw HTTPError(.serviceUnavailable, message: "the node is draining before it stops") }
        do {
            try await store.ping()
        } catch {
            context.logger.warning("not ready: the store does not answer", metadata: ["error": "\(error)"])
            throw HTTPError(.serviceUnavailable, message: "the store does not answer")
        }
        return JSONBody(Status(status: "ready", node: nodeId, role: role.rawValue))
    }

    @Sendable func metrics(_ request: Request, context: AppRequestContext) -> Response {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    @Sendable func openAPI(_ request: Request, context: AppRequestContext) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try OpenAPIDocument.bytes())))
    }
}

/// The OpenAPI document of the REST API, shipped as a resource and checked against the router by the tests.
enum OpenAPIDocument {
    static func bytes() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw ParleyError(.internal, "openapi.json is missing from the bundle")
        }
        return try Data(contentsOf: url)
    }
}
