import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyServer

/// openapi.json held against the server: the routes both ways, and every operation called for real with its request
/// and its answer checked against the document (`OpenAPIContract`).
@Suite("The OpenAPI document")
struct OpenAPITests {
    typealias Operation = OpenAPIContract.Operation

    @Test("names exactly the routes a node of role all serves, with a recorder's secret")
    func routesBothWays() async throws {
        let contract = try OpenAPIContract(try OpenAPIDocument.bytes())
        var configuration = testConfiguration()
        configuration.recorderSecret = "a recorder's secret"
        let served = Set(
            try await Self.router(configuration).routes.map {
                Operation(method: $0.method.rawValue.lowercased(), path: OpenAPIContract.normalised($0.path.description))
            })
        let documented = Set(contract.operations.map { Operation(method: $0.method, path: OpenAPIContract.normalised($0.path)) })
        let undocumented = served.subtracting(documented).sorted().map(\.description)
        let unserved = documented.subtracting(served).sorted().map(\.description)
        #expect(undocumented.isEmpty, "served, but not in openapi.json: \(undocumented.joined(separator: ", "))")
        #expect(unserved.isEmpty, "in openapi.json, but not served: \(unserved.joined(separator: ", "))")
        #expect(served.count > 20)
    }

    @Test("is whole: every $ref resolves, and every operation names its path's parameters and answers something")
    func wellFormed() throws {
        let contract = try OpenAPIContract(try OpenAPIDocument.bytes())
        #expect(contract.document["openapi"].string?.hasPrefix("3.1") == true)
        for reference in Self.references(in: contract.document) {
            #expect(contract.schemas.pointer(reference) != .null, "$ref \(reference) leads nowhere")
        }
        for operation in contract.operations.sorted() {
            let inPath = Set(operation.path.matches(of: /\{(\w+)\}/).map { String($0.1) })
            let declared = Set(contract.parameters(operation).keys.filter { $0.hasPrefix("path ") }.map { String($0.dropFirst(5)) })
            #expect(inPath == declared, "\(operation): the path has \(inPath.sorted()), the parameters \(declared.sorted())")
            #expect(contract.object(operation)["responses"].object?.isEmpty == false, "\(operation) lists no responses")
        }
    }

    @Test("every operation, called for real, takes what the document says and answers as it says", .timeLimit(.minutes(2)))
    func everyOperation() async throws {
        let contract = try OpenAPIContract(try OpenAPIDocument.bytes())
        var configuration = testConfiguration()
        configuration.stunURIs = ["stun:stun.example.test:3478"]
        configuration.turnURIs = ["turn:turn.example.test:3478?transport=udp"]
        configuration.turnSecret = "north"
        configuration.recorderSecret = "a recorder's secret"
        defer { removeSQLite(at: configuration.sqlitePath) }
        // Live, so that a WebSocket can join a meeting and its attendees be seen over REST.
        let recorderSecret = configuration.recorderSecret!
        try await buildApplication(configuration).test(.live) { client in
            let walk = OpenAPIWalk(contract: contract, client: client, recorderSecret: recorderSecret)
            try await walk.probes()
            try await walk.auth()
            try await walk.chat()
            try await walk.meetings()
            try await walk.recordings()
            try await walk.files()
            try await walk.avatars()
            try await walk.refusals()
        }
        let uncalled = contract.operations.subtracting(contract.calls.keys).sorted().map(\.description)
        #expect(uncalled.isEmpty, "documented but never called, so never checked: \(uncalled.joined(separator: ", "))")
        let unseen = contract.schemas.unseen
        #expect(unseen.isEmpty, "documented properties that no request or answer held: \(unseen.joined(separator: ", "))")
    }

    @Test(
        "its checker refuses what each keyword forbids",
        arguments: [
            (#"{"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}"#, #"{}"#, "required property 'id'"),
            (#"{"type": "object", "properties": {"id": {"type": "string"}}}"#, #"{"id": "a", "extra": 1}"#, "'extra' is not in the document"),
            (#"{"type": "integer", "minimum": 1}"#, #"0"#, "breaks minimum"),
            (#"{"type": "integer"}"#, #"1.5"#, "is not [\"integer\"]"),
            (#"{"type": ["string", "null"], "minLength": 2}"#, #""a""#, "breaks minLength"),
            (#"{"enum": ["a", "b"]}"#, #""c""#, "is not one of"),
            (#"{"const": "member"}"#, #""owner""#, "is not \"member\""),
            (#"{"type": "string", "pattern": "^[a-z]+$"}"#, #""A""#, "does not match"),
            (#"{"type": "array", "items": {"type": "string"}, "maxItems": 1}"#, #"["a", 2]"#, "$[1]: 2 is not"),
            (#"{"oneOf": [{"type": "string"}, {"type": "string", "minLength": 1}]}"#, #""a""#, "matches 2 of oneOf"),
            (#"{"anyOf": [{"type": "string"}, {"type": "null"}]}"#, #"1"#, "matches 0 of anyOf"),
            (#"{"not": {"required": ["a"]}}"#, #"{"a": 1}"#, "must not"),
            (
                #"{"if": {"properties": {"k": {"const": 1}}}, "then": {"required": ["x"]}, "else": {"required": ["y"]}}"#, #"{"k": 2}"#,
                "'y' is missing"
            ),
            (#"{"dependentRequired": {"username": ["credential"]}}"#, #"{"username": "u"}"#, "'username' needs 'credential'"),
            (#"{"type": "string", "format": "date-time"}"#, #""2025-13-45""#, "is not a date-time"),
            (#"{"type": "string", "format": "uuid"}"#, #""not-a-uuid""#, "is not a uuid"),
            (##"{"$ref": "#/components/schemas/Nothing"}"##, "1", "leads nowhere"),
            (#"{"type": "object", "patternProperties": {}}"#, #"{}"#, "does not know the keyword 'patternProperties'"),
        ])
    func checker(schema: String, value: String, error: String) throws {
        let schemas = OpenAPIContract.Schema(root: .object(["components": .object(["schemas": .object([:])])]))
        let errors = schemas.errors(try Self.json(value), try Self.json(schema), at: "$")
        #expect(errors.contains { $0.contains(error) }, "\(errors)")
    }

    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    /// The router of a whole node, built as `buildApplication` builds it.
    static func router(_ configuration: Configuration) async throws -> Router<AppRequestContext> {
        var configuration = configuration
        configuration.migrate = false
        defer { removeSQLite(at: configuration.sqlitePath) }
        let store = try await makeStore(configuration, logger: .init(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            // The store runs so that it closes its connection when the test is done with it.
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            let bus = try makeBus(configuration, logger: .init(label: "test"))
            let parts = NodeParts(
                configuration, store: store, bus: bus, tokens: await Tokens(secret: TestApp.secret), blobs: try makeBlobStore(configuration),
                logger: .init(label: "test"))
            return try await buildRouter(parts, registry: .init())
        }
    }

    static func references(in value: JSONValue) -> [String] {
        switch value {
        case .object(let object): (object["$ref"]?.string.map { [$0] } ?? []) + object.values.flatMap(references)
        case .array(let array): array.flatMap(references)
        default: []
        }
    }
}
