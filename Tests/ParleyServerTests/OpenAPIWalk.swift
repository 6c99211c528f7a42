import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyServer

/// Calls through the contract, as one user or another, each expecting a status.
struct OpenAPIWalk {
    let contract: OpenAPIContract
    let client: any TestClientProtocol
    /// The node's PARLEY_RECORDER_SECRET, which the recorder's routes take.
    let recorderSecret: String

    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, _ account: Account? = nil, json: (any Encodable)? = nil, headers: HTTPFields = [:],
        expect status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (status: HTTPResponse.Status, body: JSONValue) {
        var headers = headers
        if let account { headers[.authorization] = "Bearer \(account.accessToken)" }
        let answer = try await contract.call(client, method, uri, headers: headers, json: json, sourceLocation: sourceLocation)
        #expect(answer.status == status, "\(method) \(uri): \(answer.body)", sourceLocation: sourceLocation)
        return (answer.status, answer.body)
    }

    func signUp(_ username: String) async throws -> Account {
        let (_, session) = try await call(
            .post, "/api/auth/register", json: ["username": username, "password": "password123", "name": username.capitalized], expect: .created)
        return Account(
            user: User(id: session["user"]["id"].string ?? "", username: username, name: session["user"]["name"].string ?? ""),
            accessToken: session["accessToken"].string ?? "", refreshToken: session["refreshToken"].string ?? "")
    }

    /// Makes two users contacts and returns their direct room.
    func contact(_ a: Account, _ b: Account) async throws -> String {
        try #require(try await call(.post, "/api/contacts", a, json: ["username": b.user.username], expect: .created).body["room"].string)
    }

    /// The routes that load balancers and operators use.
    func probes() async throws {
        let (_, health) = try await call(.get, "/healthz", expect: .ok)
        #expect(health["status"].string == "ok")
        try await call(.get, "/readyz", expect: .ok)
        try await call(.get, "/metrics", expect: .ok)
        let (_, document) = try await call(.get, "/api/openapi.json", expect: .ok)
        #expect(document == contract.document)
    }

    /// Sign-up, sign-in, refresh and sign-out, with the token in the JSON and in the cookie.
    func auth() async throws {
        let erin = try await signUp("erin")
        try await call(
            .post, "/api/auth/register", json: ["username": "ERIN", "password": "password123", "name": "Another"], expect: .conflict)
        let (_, session) = try await call(.post, "/api/auth/login", json: ["username": "Erin", "password": "password123"], expect: .ok)
        #expect(session["user"]["id"].string == erin.user.id && session["expiresIn"].integer ?? 0 > 0)
        try await call(.post, "/api/auth/login", json: ["username": "erin", "password": "wrong-password"], expect: .unauthorized)
        let (_, rotated) = try await call(.post, "/api/auth/refresh", json: ["refreshToken": erin.refreshToken], expect: .ok)
        // The spent token again: a reuse, which ends the session.
        try await call(.post, "/api/auth/refresh", json: ["refreshToken": erin.refreshToken], expect: .unauthorized)
        try await call(.post, "/api/auth/logout", json: ["refreshToken": rotated["refreshToken"].string ?? ""], expect: .noContent)
        let current = try #require(session["refreshToken"].string)
        try await call(
            .post, "/api/auth/logout", json: ["refreshToken": .string(current), "everywhere": .bool(true)] as [String: JSONValue], expect: .noContent)
        try await call(
            .get, "/api/me", Account(user: erin.user, accessToken: session["accessToken"].string ?? "", refreshToken: ""), expect: .unauthorized)

        // The web client's way: the refresh token only ever in an HttpOnly cookie, sent back as a browser would.
        let fay: [String: JSONValue] = ["username": .string("fay"), "password": .string("password123"), "cookie": .bool(true)]
        let (_, cookied) = try await call(.post, "/api/auth/register", json: fay.merging(["name": .string("Fay")]) { $1 }, expect: .created)
        #expect(cookied["refreshToken"] == .null)
        let login = try await contract.call(client, .post, "/api/auth/login", json: fay)
        #expect(login.status == .ok && login.body["refreshToken"] == .null)
        let refreshed = try await contract.call(
            client, .post, "/api/auth/refresh", headers: [.cookie: try Self.cookie(login.headers)], json: [:] as [String: String])
        #expect(refreshed.status == .ok && refreshed.body["refreshToken"] == .null)
        let signedOut = try await contract.call(
            client, .post, "/api/auth/logout", headers: [.cookie: try Self.cookie(refreshed.headers)], json: [:] as [String: String])
        #expect(signedOut.status == .noContent && signedOut.headers[.setCookie]?.contains("Max-Age=0") == true)

        // Failed sign-ins past the free ones are locked out, with Retry-After.
        _ = try await signUp("gus")
        var statuses: [HTTPResponse.Status] = []
        for _ in 0..<8 where statuses.last != .tooManyRequests {
            statuses.append(
                try await contract.call(client, .post, "/api/auth/login", json: ["username": "gus", "password": "not-his-password"]).status)
        }
        #expect(statuses.last == .tooManyRequests, "\(statuses)")
    }

    /// The `parley_refresh` cookie an answer sets, as a browser would send it back.
    private static func cookie(_ headers: HTTPFields) throws -> String {
        try #require(headers[.setCookie]?.split(separator: ";").first.map(String.init))
    }

    /// Users, contacts, rooms, members and messages.
    func chat() async throws {
        let alice = try await signUp("alice")
        let bob = try await signUp("bob")
        let carol = try await signUp("carol")
        let (_, me) = try await call(.get, "/api/me", alice, expect: .ok)
        #expect(me["id"].string == alice.user.id)
        let (_, found) = try await call(.get, "/api/users?q=bo&limit=10", alice, expect: .ok)
        #expect(found[0]["username"].string == "bob")

        let direct = try await contact(alice, bob)
        let (_, again) = try await call(.post, "/api/contacts", bob, json: ["username": "alice"], expect: .ok)
        #expect(again["room"].string == direct)
        try await call(.post, "/api/contacts", alice, json: ["username": "nobody"], expect: .notFound)
        let (_, contacts) = try await call(.get, "/api/contacts", alice, expect: .ok)
        #expect(contacts.array?.count == 1)
        let (_, presence) = try await call(.get, "/api/presence", alice, expect: .ok)
        #expect(presence[0]["user"].string == bob.user.id && presence[0]["online"].bool == false)

        let (_, created) = try await call(.post, "/api/rooms", alice, json: Self.group("Team", [bob]), expect: .created)
        let group = try #require(created["room"]["id"].string)
        try await call(.get, "/api/rooms/\(group)", bob, expect: .ok)
        try await call(.patch, "/api/rooms/\(group)", alice, json: ["name": "Crew"], expect: .ok)
        try await call(.patch, "/api/rooms/\(direct)", alice, json: ["name": "Crew"], expect: .forbidden)
        let (_, member) = try await call(
            .post, "/api/rooms/\(group)/members", alice, json: ["userId": carol.user.id, "role": "admin"], expect: .created)
        #expect(member["role"].string == "admin")
        try await call(.post, "/api/rooms/\(group)/members", alice, json: ["userId": carol.user.id], expect: .conflict)
        try await call(.patch, "/api/rooms/\(group)/members/\(carol.user.id)", alice, json: ["role": "member"], expect: .ok)
        try await call(.patch, "/api/rooms/\(group)/members/\(carol.user.id)", bob, json: ["role": "admin"], expect: .forbidden)
        try await call(.delete, "/api/rooms/\(group)/members/\(carol.user.id)", alice, expect: .noContent)

        let clientId = UUID().uuidString
        try await call(.post, "/api/rooms/\(direct)/messages", alice, json: ["clientId": clientId, "text": "hi bob"], expect: .created)
        try await call(.post, "/api/rooms/\(direct)/messages", alice, json: ["clientId": clientId, "text": "hi bob"], expect: .ok)
        try await call(.post, "/api/rooms/\(direct)/messages", bob, json: ["clientId": UUID().uuidString, "text": "hi"], expect: .created)
        try await call(.delete, "/api/rooms/\(direct)/messages/1", bob, expect: .forbidden)
        let (_, deleted) = try await call(.delete, "/api/rooms/\(direct)/messages/1", alice, expect: .ok)
        #expect(deleted["text"] == .null && deleted["deletedAt"].string != nil)
        try await call(.delete, "/api/rooms/\(direct)/messages/9", alice, expect: .notFound)
        let (_, page) = try await call(.get, "/api/rooms/\(direct)/messages?after=0&limit=10", bob, expect: .ok)
        #expect(page.array?.count == 2)
        try await call(.get, "/api/rooms/\(direct)/messages?before=2", bob, expect: .ok)
        try await call(.post, "/api/rooms/\(direct)/read", alice, json: ["seq": 2], expect: .noContent)
        let (_, rooms) = try await call(.get, "/api/rooms", alice, expect: .ok)
        #expect(rooms.array?.count == 2)

        let (_, edited) = try await call(.patch, "/api/rooms/\(direct)/messages/2", bob, json: ["text": "hi alice"], expect: .ok)
        #expect(edited["text"].string == "hi alice" && edited["editedAt"].string != nil)
        try await call(.patch, "/api/rooms/\(direct)/messages/2", alice, json: ["text": "mine"], expect: .forbidden)
        try await call(.patch, "/api/rooms/\(direct)/messages/1", alice, json: ["text": "back"], expect: .badRequest)
        try await call(.post, "/api/rooms/\(direct)/messages/2/reactions", alice, json: ["emoji": "👍"], expect: .created)
        try await call(.post, "/api/rooms/\(direct)/messages/2/reactions", alice, json: ["emoji": "👍"], expect: .ok)
        try await call(.post, "/api/rooms/\(direct)/messages/2/reactions", alice, json: ["emoji": "up"], expect: .badRequest)
        let reply: [String: JSONValue] = ["clientId": .string(UUID().uuidString), "text": .string("a reply"), "replyTo": .int(2)]
        let (_, answered) = try await call(.post, "/api/rooms/\(direct)/messages", alice, json: reply, expect: .created)
        #expect(answered["quoted"]["snippet"].string == "hi alice")
        try await call(.delete, "/api/rooms/\(direct)/messages/2/reactions/%F0%9F%91%8D", alice, expect: .noContent)
        try await call(.post, "/api/rooms/\(direct)/messages/3/reactions", bob, json: ["emoji": "🎉"], expect: .created)
        try await call(.delete, "/api/rooms/\(direct)/messages/2", bob, expect: .ok)
        let (_, history) = try await call(.get, "/api/rooms/\(direct)/messages?after=2", alice, expect: .ok)
        #expect(history[0]["quoted"]["deleted"] == .bool(true) && history[0]["reactions"][0]["count"] == .int(1))
        let (_, results) = try await call(.get, "/api/search?q=repl&limit=5", bob, expect: .ok)
        #expect(results["messages"][0]["seq"] == .int(3) && results["next"] == .null)
        try await call(.get, "/api/search?q=%3F%21", bob, expect: .badRequest)
        try await call(.get, "/api/search?q=reply&room=\(group)", carol, expect: .notFound)

        try await call(.delete, "/api/rooms/\(direct)", alice, expect: .forbidden)
        try await call(.delete, "/api/rooms/\(group)", bob, expect: .forbidden)
        try await call(.delete, "/api/rooms/\(group)", alice, expect: .noContent)
        try await call(.get, "/api/rooms/\(group)", alice, expect: .notFound)
    }

    /// Meetings rung, answered, declined and ended, and the ICE servers.
    func meetings() async throws {
        let hana = try await signUp("hana")
        let ivan = try await signUp("ivan")
        let joe = try await signUp("joe")
        let direct = try await contact(hana, ivan)
        let (_, created) = try await call(.post, "/api/rooms", hana, json: Self.group("Call", [ivan, joe]), expect: .created)
        let group = try #require(created["room"]["id"].string)

        let (_, ringing) = try await call(.post, "/api/rooms/\(group)/meetings", hana, expect: .created)
        let id = try #require(ringing["id"].string)
        try await call(.post, "/api/rooms/\(group)/meetings", ivan, expect: .ok)
        let (_, open) = try await call(.get, "/api/meetings", ivan, expect: .ok)
        #expect(open[0]["id"].string == id)
        let (_, rooms) = try await call(.get, "/api/rooms", ivan, expect: .ok)
        #expect(rooms.array?.contains { $0["meeting"]["id"].string == id } == true)
        try await call(.get, "/api/meetings/\(id)", joe, expect: .ok)
        let (_, active) = try await call(.post, "/api/meetings/\(id)/accept", ivan, expect: .ok)
        #expect(active["state"].string == "active")
        try await attending(id, as: ivan) {
            let (_, attended) = try await call(.get, "/api/meetings/\(id)", joe, expect: .ok)
            #expect(attended["attendees"][0]["user"].string == ivan.user.id && attended["attendees"][0]["media"]["screen"].bool == true)
            let (_, rooms) = try await call(.get, "/api/rooms", joe, expect: .ok)
            #expect(rooms.array?.contains { $0["meeting"]["attendees"][0]["user"].string == ivan.user.id } == true)
            try await call(.post, "/api/meetings/\(id)/end", joe, expect: .forbidden)
            let (_, ended) = try await call(.post, "/api/meetings/\(id)/end", hana, expect: .ok)
            #expect(ended["state"].string == "ended" && ended["attendees"].array?.isEmpty == true)
            let (_, timeline) = try await call(.get, "/api/rooms/\(group)/messages", joe, expect: .ok)
            #expect(timeline.array?.last?["call"]["outcome"].string == "answered" && timeline.array?.last?["call"]["durationMs"].integer != nil)
        }
        try await call(.post, "/api/meetings/\(id)/accept", ivan, expect: .gone)
        try await call(.get, "/api/meetings/\(id)", hana, expect: .ok)

        let (_, ring) = try await call(.post, "/api/rooms/\(direct)/meetings", hana, expect: .created)
        let (_, declined) = try await call(.post, "/api/meetings/\(ring["id"].string ?? "")/decline", ivan, expect: .ok)
        #expect(declined["state"].string == "declined")
        try await call(.post, "/api/meetings/m_nothing/decline", ivan, expect: .notFound)

        let (_, ice) = try await call(.get, "/api/turn", hana, expect: .ok)
        #expect(ice["iceServers"].array?.count == 2)
    }

    /// Recording a meeting: refused to a non-attendee and without a free worker; started, taken by a worker whose
    /// socket attends as the recorder, renewed, posted, stopped and finished; refused in a group that forbids it and
    /// once the meeting has ended.
    func recordings() async throws {
        let (lea, max, nia) = (try await signUp("lea"), try await signUp("max"), try await signUp("nia"))
        let recorder: HTTPFields = [.authorization: "Bearer \(recorderSecret)"]
        let (_, created) = try await call(.post, "/api/rooms", lea, json: Self.group("Recorded", [max, nia]), expect: .created)
        let group = try #require(created["room"]["id"].string)
        let (_, ringing) = try await call(.post, "/api/rooms/\(group)/meetings", lea, expect: .created)
        let id = try #require(ringing["id"].string)
        try await attending(id, as: lea) {
            try await call(.post, "/api/meetings/\(id)/recording", max, expect: .forbidden)
            try await call(.post, "/api/meetings/\(id)/recording", lea, expect: .serviceUnavailable)
            // A worker asks for a job and finds none: it is free from now on.
            try await call(.post, "/api/recorder/claim", json: ["worker": "walker"], headers: recorder, expect: .noContent)
            try await call(.post, "/api/recorder/claim", json: ["worker": "walker"], expect: .unauthorized)
            let (_, started) = try await call(.post, "/api/meetings/\(id)/recording", lea, expect: .created)
            #expect(started["recording"]["by"].string == lea.user.id)
            try await call(.post, "/api/meetings/\(id)/recording", lea, expect: .ok)

            let (_, claimed) = try await call(.post, "/api/recorder/claim", json: ["worker": "walker"], headers: recorder, expect: .ok)
            let job = try #require(claimed["job"]["id"].string)
            #expect(claimed["job"]["meeting"].string == id && claimed["job"]["part"].integer == 1)
            try await attendingAsRecorder(id, token: try #require(claimed["token"].string)) {
                let (_, seen) = try await call(.get, "/api/meetings/\(id)", nia, expect: .ok)
                #expect(seen["attendees"].array?.contains { $0["recorder"].bool == true && $0["user"].string == User.recorderId } == true)
                // Its token opens its socket, and no REST route.
                try await call(.get, "/api/meetings", headers: [.authorization: "Bearer \(claimed["token"].string ?? "")"], expect: .unauthorized)
            }
            try await expectRecorderKeptToItsJob(token: try #require(claimed["token"].string), recorder: recorder, host: lea, guest: nia)
            let held: [String: JSONValue] = ["worker": .string("walker"), "part": .int(1)]
            let (_, renewed) = try await call(.post, "/api/recorder/recordings/\(job)/renew", json: held, headers: recorder, expect: .ok)
            #expect(renewed["stop"].bool == false)
            try await call(
                .post, "/api/recorder/recordings/\(job)/renew", json: ["worker": JSONValue.string("another"), "part": .int(1)], headers: recorder,
                expect: .conflict)

            let (_, part) = try await call(
                .post, "/api/recorder/recordings/\(job)/parts", json: ["part": 1, "size": 11], headers: recorder, expect: .created)
            #expect(part["file"]["contentType"].string == "video/webm")
            let upload = try #require(part["upload"]["url"].string)
            #expect(try await contract.call(client, .put, upload, headers: [.contentType: "video/webm"], raw: "webm cluster").status == .badRequest)
            #expect(try await contract.call(client, .put, upload, headers: [.contentType: "video/webm"], raw: "webm frames").status == .noContent)
            let file = try #require(part["file"]["id"].string)
            let post: [String: JSONValue] = ["file": .string(file), "durationMs": .int(65_000)]
            let (_, posted) = try await call(
                .post, "/api/recorder/recordings/\(job)/parts/1/message", json: post, headers: recorder, expect: .created)
            #expect(posted["sender"].string == User.recorderId && posted["files"][0]["id"].string == file)
            #expect(posted["text"].string?.hasPrefix("Recording of the call of ") == true && posted["text"].string?.hasSuffix(" · 1:05") == true)
            try await call(.get, "/api/files/\(file)", nia, expect: .found)

            let (_, stopped) = try await call(.delete, "/api/meetings/\(id)/recording", lea, expect: .ok)
            #expect(stopped["recording"] == .null)
            let (_, stopping) = try await call(.post, "/api/recorder/recordings/\(job)/renew", json: held, headers: recorder, expect: .ok)
            #expect(stopping["stop"].bool == true)
            let (_, finished) = try await call(
                .post, "/api/recorder/recordings/\(job)/finish", json: held.merging(["lost": .bool(false)]) { $1 }, headers: recorder, expect: .ok)
            #expect(finished["state"].string == "done" && finished["stopReason"].string == "stopped")
            try await call(.post, "/api/recorder/recordings/\(job)/finish", json: held, headers: recorder, expect: .conflict)
            try await call(.delete, "/api/meetings/\(id)/recording", lea, expect: .ok)

            // The group's owner forbids recording.
            let (_, forbidden) = try await call(.patch, "/api/rooms/\(group)", lea, json: ["recordingAllowed": false], expect: .ok)
            #expect(forbidden["room"]["recordingAllowed"].bool == false)
            try await call(.post, "/api/recorder/claim", json: ["worker": "walker"], headers: recorder, expect: .noContent)
            try await call(.post, "/api/meetings/\(id)/recording", lea, expect: .forbidden)
            try await call(.patch, "/api/rooms/\(group)", max, json: ["recordingAllowed": true], expect: .forbidden)
            try await call(.post, "/api/meetings/\(id)/end", lea, expect: .ok)
        }
        try await call(.post, "/api/meetings/\(id)/recording", lea, expect: .gone)
        try await call(.delete, "/api/meetings/\(id)/recording", lea, expect: .gone)
    }

    /// A job's token attends its own meeting and no other, even one that another worker records.
    private func expectRecorderKeptToItsJob(token: String, recorder: HTTPFields, host: Account, guest: Account) async throws {
        let room = try await contact(host, guest)
        let (_, other) = try await call(.post, "/api/rooms/\(room)/meetings", host, expect: .created)
        let id = try #require(other["id"].string)
        try await attending(id, as: host) {
            try await call(.post, "/api/recorder/claim", json: ["worker": "another"], headers: recorder, expect: .noContent)
            try await call(.post, "/api/meetings/\(id)/recording", host, expect: .created)
            let (_, claimed) = try await call(.post, "/api/recorder/claim", json: ["worker": "another"], headers: recorder, expect: .ok)
            #expect(claimed["job"]["meeting"].string == id)
            await #expect(throws: ParleyError.notFound("meeting")) {
                try await attendingAsRecorder(id, token: token) {}
            }
            try await call(.delete, "/api/meetings/\(id)/recording", host, expect: .ok)
        }
    }

    /// Runs `body` while the recorder attends the meeting from a WebSocket opened with a job's token.
    private func attendingAsRecorder(_ meeting: String, token: String, _ body: () async throws -> Void) async throws {
        let port = try #require(client.port)
        let rest = ParleyClient(baseURL: "http://localhost:\(port)")
        rest.restore(Session(user: .recorder, accessToken: token, refreshToken: nil, expiresIn: 0))
        try await attending(meeting, through: rest, media: MediaState(audio: false, video: false, screen: false), body)
    }

    /// Runs `body` while `account` attends the meeting from a WebSocket.
    private func attending(_ meeting: String, as account: Account, _ body: () async throws -> Void) async throws {
        let port = try #require(client.port)
        let rest = ParleyClient(baseURL: "http://localhost:\(port)")
        try await rest.login(username: account.user.username, password: "password123")
        try await attending(meeting, through: rest, media: MediaState(audio: true, video: false, screen: true), body)
    }

    private func attending(_ meeting: String, through rest: ParleyClient, media: MediaState, _ body: () async throws -> Void) async throws {
        let port = try #require(client.port)
        let live = LiveClient(rest: rest, urls: ["ws://localhost:\(port)/ws"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await live.run() }
            defer { group.cancelAll() }
            for await event in live.events {
                if case .connected = event { break }
            }
            try await live.joinMeeting(meeting, media: media)
            try await body()
        }
    }

    /// Every operation answers as documented when it refuses: without a token; with a body that is not JSON, is
    /// malformed or is too large; with ids that name nothing, or hold a control character.
    func refusals() async throws {
        let kim = try await signUp("kim")
        for operation in contract.operations.sorted() {
            let auth: HTTPFields = [.authorization: "Bearer \(operation.path.hasPrefix("/api/recorder/") ? recorderSecret : kim.accessToken)"]
            let method = HTTPRequest.Method(operation.method.uppercased())!
            let uri = operation.path.replacing(/\{(\w+)\}/) { $0.1 == "seq" ? "1" : "x_\($0.1)" }
            if contract.isSecured(operation) {
                let (status, _, _) = try await contract.call(client, method, uri, conforming: false)
                #expect(status == .unauthorized, "\(operation) without a token")
            }
            // A signed link answers 403 to any request that does not carry its signature; its body is any bytes.
            let signed = contract.object(operation)["parameters"].array?.contains { $0["name"].string == "signature" } ?? false
            if contract.object(operation)["requestBody"]["content"]["application/json"] != .null {
                let refusals: [(String, HTTPFields, HTTPResponse.Status)] = [
                    ("{}", [.contentType: "text/plain"], .unsupportedMediaType),
                    ("{\"name\":", [:], .badRequest),
                    ("{\"name\":\"" + String(repeating: "x", count: 70_000) + "\"}", [:], .contentTooLarge),
                ]
                for (body, headers, expected) in refusals {
                    let (status, _, _) = try await contract.call(client, method, uri, headers: headers + auth, raw: body)
                    #expect(status == expected, "\(operation) with \(body.prefix(12))...")
                }
            }
            guard operation.path.contains("{") else { continue }
            // A room or meeting the caller is not in answers as one that does not exist.
            let body = contract.acceptedBody(operation)
            let (missing, _, _) = try await contract.call(client, method, uri, headers: auth, json: body, conforming: !signed)
            #expect(missing == (signed ? .forbidden : .notFound), "\(operation) for ids that name nothing")
            let control = operation.path.replacing(/\{(\w+)\}/) { _ in "x%01" }
            let (refused, _, _) = try await contract.call(client, method, control, headers: auth, json: body, conforming: false)
            #expect(refused == .badRequest, "\(operation) with a control character in the path")
        }
    }

    static func group(_ name: String, _ members: [Account]) -> [String: JSONValue] {
        ["name": .string(name), "members": .array(members.map { .string($0.user.id) })]
    }

    /// Files: announced by a member, uploaded through the signed link, fetched by members through a short-lived link.
    func files() async throws {
        let (ann, bea, cid) = (try await signUp("ann"), try await signUp("bea"), try await signUp("cid"))
        let room = try await contact(ann, bea)
        func announce(_ account: Account, name: String, size: Int64, type: String, expect status: HTTPResponse.Status) async throws -> JSONValue {
            try await call(
                .post, "/api/rooms/\(room)/files", account,
                json: ["name": .string(name), "size": .int(size), "contentType": .string(type)] as [String: JSONValue],
                expect: status
            ).body
        }
        let announced = try await announce(ann, name: "../notes.txt", size: 11, type: "Text/Plain; charset=utf-8", expect: .created)
        #expect(announced["file"]["name"].string == "notes.txt" && announced["file"]["contentType"].string == "text/plain")
        let id = try #require(announced["file"]["id"].string), upload = try #require(announced["upload"]["url"].string)
        #expect(announced["upload"]["headers"]["Content-Type"].string == "text/plain")
        _ = try await announce(cid, name: "x.txt", size: 11, type: "text/plain", expect: .notFound)
        _ = try await announce(ann, name: "big.bin", size: 26 << 20, type: "application/octet-stream", expect: .contentTooLarge)
        _ = try await announce(ann, name: "/", size: 1, type: "text/plain", expect: .badRequest)
        _ = try await announce(ann, name: "x", size: 1, type: "no type", expect: .badRequest)

        func put(_ url: String, _ body: String, type: String = "text/plain") async throws -> HTTPResponse.Status {
            try await contract.call(client, .put, url, headers: [.contentType: type], raw: body).status
        }
        #expect(try await put(upload, "too short") == .badRequest)
        #expect(try await put(upload, "hello files", type: "text/html") == .badRequest)
        #expect(try await put(upload.replacingOccurrences(of: "signature=", with: "signature=00"), "hello files") == .forbidden)
        #expect(try await put(upload.replacingOccurrences(of: "expires=", with: "expires=1"), "hello files") == .forbidden)
        #expect(try await put(upload, "hello files") == .noContent)
        #expect(try await put(upload, "hello files") == .conflict)

        // An image whose bytes are not of its type is refused, and nothing of it kept.
        let fake = try await announce(ann, name: "cat.png", size: 8, type: "image/png", expect: .created)
        #expect(try await put(try #require(fake["upload"]["url"].string), "notapng!", type: "image/png") == .badRequest)

        let linked = try await contract.call(client, .get, "/api/files/\(id)", headers: bea.auth)
        #expect(linked.status == .found)
        let location = try #require(linked.headers[.location])
        let bytes = try await contract.call(client, .get, location)
        #expect(bytes.status == .ok && bytes.headers[.contentDisposition] == "attachment; filename=\"notes.txt\"")
        #expect(bytes.headers[.contentType] == "text/plain" && bytes.headers[.xContentTypeOptions] == "nosniff")
        // Refused, its bytes are not in: there is nothing to fetch.
        try await call(.get, "/api/files/\(try #require(fake["file"]["id"].string))", ann, expect: .notFound)
        try await call(.get, "/api/files/\(id)", cid, expect: .notFound)

        // Sent with a message, once: the message carries it, history too; deleting the message takes its bytes.
        let note: [String: JSONValue] = ["clientId": .string(UUID().uuidString), "files": .array([.string(id)])]
        let (_, sent) = try await call(.post, "/api/rooms/\(room)/messages", ann, json: note, expect: .created)
        #expect(sent["text"].string == "" && sent["files"][0]["id"].string == id && sent["files"][0]["size"].integer == 11)
        try await call(.post, "/api/rooms/\(room)/messages", ann, json: note, expect: .ok)
        let again: [String: JSONValue] = ["clientId": .string(UUID().uuidString), "text": .string("once more"), "files": .array([.string(id)])]
        try await call(.post, "/api/rooms/\(room)/messages", ann, json: again, expect: .badRequest)
        let (_, history) = try await call(.get, "/api/rooms/\(room)/messages", bea, expect: .ok)
        #expect(history.array?.last?["files"][0]["name"].string == "notes.txt")
        let seq = try #require(sent["seq"].integer)
        try await call(.delete, "/api/rooms/\(room)/messages/\(seq)", ann, expect: .ok)
        try await call(.get, "/api/files/\(id)", bea, expect: .notFound)
        try await call(.get, "/api/files/f_nosuchfile", ann, expect: .notFound)
        #expect(try await contract.call(client, .get, location.replacingOccurrences(of: "action=get", with: "action=put")).status == .forbidden)
    }

    /// Pictures: set with an image's bytes, served at a public path that never changes, replaced and removed.
    func avatars() async throws {
        let dee = try await signUp("dee")
        func put(_ body: String) async throws -> (status: HTTPResponse.Status, body: JSONValue) {
            let answer = try await contract.call(client, .put, "/api/me/avatar", headers: dee.auth + [.contentType: "image/webp"], raw: body)
            return (answer.status, answer.body)
        }
        // WebP's magic bytes are ASCII: RIFF, a size, WEBP.
        let (status, me) = try await put("RIFF0000WEBPVP8 a small picture")
        #expect(status == .ok)
        let avatar = try #require(me["avatar"].string)
        #expect(avatar.hasPrefix("/api/avatars/a_") && avatar.hasSuffix(".webp"))
        let image = try await contract.call(client, .get, avatar)
        #expect(image.status == .ok && image.headers[.contentType] == "image/webp")
        // Only its own name serves it: another extension would serve it as another type.
        try await call(.get, avatar.replacingOccurrences(of: ".webp", with: ".png"), expect: .notFound)
        #expect(try await put("<svg onload=alert(1)>").status == .badRequest)
        let (_, replaced) = try await put("RIFF0000WEBPVP8 another")
        #expect(replaced["avatar"].string != avatar)
        #expect(try await contract.call(client, .get, avatar).status == .notFound)
        let (_, cleared) = try await call(.delete, "/api/me/avatar", dee, expect: .ok)
        #expect(cleared["avatar"] == .null)
        try await call(.get, "/api/avatars/a_nothing.png", expect: .notFound)
    }
}
