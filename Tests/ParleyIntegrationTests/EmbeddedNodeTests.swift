import Foundation
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@Suite("A parley node, run as a process")
struct EmbeddedNodeTests {
    @Test("`parley` with no environment serves the REST flow on SQLite, stops on SIGTERM, and keeps its data")
    func embedded() async throws {
        try await withScratchDirectory("parley-node") { directory in
            let first = try NodeProcess(environment: [:], directory: directory)
            let (room, bobSession) = try await Self.chat(at: try await first.listening())
            #expect(try await first.terminate() == 0, "graceful shutdown exits 0:\n\(first.output)")
            // The default SQLite file and the generated signing key sit in the working folder.
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("parley.sqlite").path))
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("parley.sqlite.jwt-secret").path))

            let second = try NodeProcess(environment: [:], directory: directory)
            let bob = ParleyClient(baseURL: try await second.listening())
            try await bob.login(username: bobSession.user.username, password: "password123")
            let history = try await bob.messages(room: room)
            #expect(history.map(\.text) == ["hi bob", "hi alice"])
            #expect(history.map(\.seq) == [1, 2])
            #expect(try await second.terminate() == 0)
        }
    }

    @Test(
        "a node with DATABASE_URL migrates Postgres and serves the same flow",
        .enabled(if: TestServers.postgres.enabled, "needs PARLEY_TEST_DATABASE_URL: run scripts/test"))
    func postgres() async throws {
        try await withScratchDirectory("parley-node") { directory in
            var environment = ["DATABASE_URL": try TestServers.postgres.require(), "PARLEY_JWT_SECRET": String(repeating: "k", count: 32)]

            let refused = try NodeProcess(environment: environment.filter { $0.key != "PARLEY_JWT_SECRET" }, directory: directory)
            #expect(try await refused.exitStatus() != 0)
            #expect(refused.output.contains("PARLEY_JWT_SECRET is required"))

            environment["PARLEY_MIGRATE"] = "1"
            let node = try NodeProcess(environment: environment, directory: directory)
            _ = try await Self.chat(at: try await node.listening())
            #expect(try await node.terminate() == 0)
        }
    }

    /// Registers two users, makes them contacts, and has them exchange a message each.
    static func chat(at baseURL: String) async throws -> (room: String, bob: Session) {
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let alice = ParleyClient(baseURL: baseURL)
        let bob = ParleyClient(baseURL: baseURL)
        try await alice.register(username: "alice\(suffix)", password: "password123", name: "Alice")
        let bobSession = try await bob.register(username: "bob\(suffix)", password: "password123", name: "Bob")
        let contact = try await alice.addContact(username: "bob\(suffix)")
        #expect(try await bob.contacts().map(\.room) == [contact.room])
        try await alice.send(room: contact.room, text: "hi bob")
        try await bob.send(room: contact.room, text: "hi alice")
        let rooms = try await alice.rooms()
        #expect(rooms.first?.unread == 1)
        #expect(rooms.first?.lastMessage?.text == "hi alice")
        do {
            _ = try await ParleyClient(baseURL: baseURL).rooms()
            Issue.record("an anonymous client listed rooms")
        } catch let error as ParleyClientError {
            #expect(error.status == 401 && error.code == .unauthorized)
        }
        return (contact.room, bobSession)
    }
}
