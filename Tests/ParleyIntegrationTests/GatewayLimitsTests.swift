import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("Gateway limits and security")
struct GatewayLimitsTests {
    @Test("a flood gets a rate_limited error frame, then close 1008")
    func flood() async throws {
        try await withLimitedNode(rateLimit: 5) { base, node in
            let user = ParleyClient(baseURL: base)
            let session = try await user.register(username: "flooder", password: "password123", name: "F")
            let errors = ErrorFrames()
            let code = try await connectRaw("ws://127.0.0.1:\(node.port)/ws", token: session.accessToken) { inbound, outbound in
                for n in 0..<50 { try await outbound.write(.text(#"{"type":"ping","id":"\#(n)"}"#)) }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message, text.contains("rate_limited") { await errors.add(text) }
                }
            }
            #expect(code == 1008)
            #expect(await errors.count == 1)
        }
    }

    @Test("a frame over 64 KiB closes the socket with 1009, and the node keeps serving")
    func oversized() async throws {
        try await withLimitedNode { base, node in
            let user = ParleyClient(baseURL: base)
            let session = try await user.register(username: "bigsender", password: "password123", name: "B")
            let code = try await connectRaw("ws://127.0.0.1:\(node.port)/ws", token: session.accessToken) { inbound, outbound in
                let text = String(repeating: "x", count: 70_000)
                try await outbound.write(.text(#"{"type":"ping","pad":"\#(text)"}"#))
                try await drain(inbound)
            }
            #expect(code == 1009)
            #expect(try await user.me().username == "bigsender")
        }
    }

    @Test("a bad token is refused before the upgrade, end to end; a valid one upgrades")
    func refusedUpgrades() async throws {
        try await withLimitedNode { base, node in
            let session = try await ParleyClient(baseURL: base).register(username: "checker", password: "password123", name: "C")
            let url = "ws://127.0.0.1:\(node.port)/ws"
            /// Whether the upgrade succeeded: the socket opened and said hello.
            func upgrades(token: String, origin: String? = nil) async -> Bool {
                let greeted = ErrorFrames()
                _ = try? await connectRaw(url, token: token, origin: origin) { inbound, outbound in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if case .text(let text) = message, text.contains(#""type":"hello""#) { await greeted.add(text) }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
                return await greeted.count == 1
            }
            #expect(await upgrades(token: "not-a-token") == false)
            #expect(await upgrades(token: session.accessToken))
        }
    }

    @Test("the upgrade check: subprotocol, bearer token, and a browser Origin that is the node's own or allowed")
    func upgradeCheck() async throws {
        let tokens = await Tokens(secret: testSigningKey)
        let token = try await tokens.accessToken(for: "u_someone", session: "f_someone")
        let authenticator = WebSocketAuthenticator(tokens: tokens, allowedOrigins: ["https://app.example"])
        /// The refusal's code, or nil when the request passes.
        func refusal(_ headers: [(String, String)]) async -> ParleyError.Code? {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws", headers: HTTPHeaders([("Host", "node.example:8080")] + headers))
            do {
                _ = try await authenticator.authenticate(head)
                return nil
            } catch {
                return (error as? ParleyError)?.code ?? .internal
            }
        }
        let bearer = ("Sec-WebSocket-Protocol", "parley.v1, bearer.\(token)")
        #expect(await refusal([bearer]) == nil)
        #expect(await refusal([bearer, ("Origin", "http://node.example:8080")]) == nil)
        #expect(await refusal([bearer, ("Origin", "https://app.example")]) == nil)
        #expect(await refusal([bearer, ("Origin", "https://evil.example")]) == .forbidden)
        #expect(await refusal([bearer, ("Origin", "null")]) == .forbidden)
        #expect(await refusal([("Sec-WebSocket-Protocol", "parley.v1, bearer.forged")]) == .unauthorized)
        #expect(await refusal([("Sec-WebSocket-Protocol", "parley.v1")]) == .unauthorized)
        #expect(await refusal([("Sec-WebSocket-Protocol", "chat, bearer.\(token)")]) == .badRequest)
        // Offered as two headers rather than one list.
        #expect(await refusal([("Sec-WebSocket-Protocol", "parley.v1"), ("Sec-WebSocket-Protocol", "bearer.\(token)")]) == nil)
    }

    @Test("a refused upgrade is answered with the error's status and a JSON body, on a real node")
    func refusalResponses() async throws {
        try await withLimitedNode { base, node in
            let session = try await ParleyClient(baseURL: base).register(username: "refused", password: "password123", name: "R")
            func upgrade(_ path: String, _ protocols: String) async throws -> String {
                try await rawRequest(
                    port: node.port,
                    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(node.port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: \(protocols)\r\n\r\n")
            }
            let forged = try await upgrade("/ws", "parley.v1, bearer.forged")
            #expect(forged.hasPrefix("HTTP/1.1 401"))
            #expect(forged.contains(#""code":"unauthorized""#))
            let elsewhere = try await upgrade("/api/me", "parley.v1, bearer.\(session.accessToken)")
            #expect(elsewhere.hasPrefix("HTTP/1.1 404"))
            #expect(elsewhere.contains(#""code":"not_found""#))
            let accepted = try await upgrade("/ws", "parley.v1, bearer.\(session.accessToken)")
            #expect(accepted.hasPrefix("HTTP/1.1 101"))
            #expect(accepted.lowercased().contains("sec-websocket-protocol: parley.v1"))
        }
    }

    @Test("a token that expires without an auth renewal closes the socket with 4401; a renewed one stays open")
    func tokenExpiry() async throws {
        try await withLimitedNode(rateLimit: 50) { base, node in
            let session = try await ParleyClient(baseURL: base).register(username: "expiring", password: "password123", name: "E")
            let tokens = await Tokens(secret: testSigningKey)
            // Tokens that run out a few seconds from now.
            let sid = try await tokens.verify(session.accessToken).session
            let short = { (seconds: Double) in
                try await tokens.accessToken(for: session.user.id, session: sid, now: Date().addingTimeInterval(-Double(tokens.accessLifetime) + seconds))
            }
            let url = "ws://127.0.0.1:\(node.port)/ws"

            let expired = try await connectRaw(url, token: try await short(2)) { inbound, _ in try await drain(inbound) }
            #expect(expired == CloseCode.tokenExpired)

            // Five seconds, so that a busy machine still renews it in time.
            let renewed = try await connectRaw(url, token: try await short(5)) { inbound, outbound in
                try await outbound.write(.text(#"{"type":"auth","id":"a","token":"\#(session.accessToken)"}"#))
                // The short token's seconds are waited out: the socket must outlive them on the renewal.
                try await Task.sleep(for: .seconds(6))
                try await outbound.write(.text(#"{"type":"ping","id":"p"}"#))
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message, text.contains(#""re":"p""#) { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            #expect(renewed == 1000)
        }
    }

    @Test("an auth frame renews a socket only with a token of the socket's own session")
    func renewalKeepsTheSession() async throws {
        try await withLimitedNode(rateLimit: 50) { base, node in
            let first = try await ParleyClient(baseURL: base).register(username: "twosessions", password: "password123", name: "T")
            let second = try await ParleyClient(baseURL: base).login(username: "twosessions", password: "password123")
            let answers = Answers()
            _ = try await connectRaw("ws://127.0.0.1:\(node.port)/ws", token: first.accessToken) { inbound, outbound in
                try await outbound.write(.text(#"{"type":"auth","id":"other","token":"\#(second.accessToken)"}"#))
                try await outbound.write(.text(#"{"type":"auth","id":"own","token":"\#(first.accessToken)"}"#))
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message, text.contains(#""re":"#) else { continue }
                    await answers.add(text)
                    if text.contains(#""re":"own""#) { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            let all = await answers.all
            #expect(all.count == 2)
            #expect(all.first { $0.contains(#""re":"other""#) }?.contains("unauthorized") == true, "\(all)")
            #expect(all.first { $0.contains(#""re":"own""#) }?.contains(#""ok":true"#) == true, "\(all)")
        }
    }

    @Test("signing out closes the user's sockets with 4001")
    func signOut() async throws {
        try await withLimitedNode(rateLimit: 50) { base, node in
            let user = ParleyClient(baseURL: base)
            let session = try await user.register(username: "leaver", password: "password123", name: "L")
            let code = try await connectRaw("ws://127.0.0.1:\(node.port)/ws", token: session.accessToken) { inbound, outbound in
                try await outbound.write(.text(#"{"type":"ping","id":"p"}"#))
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                _ = try await iterator.next()  // hello
                _ = try await iterator.next()  // the ping's reply: the socket is registered
                try await user.logout()
                while try await iterator.next() != nil {}
            }
            #expect(code == CloseCode.signedOut)
        }
    }

    @Test("a reader too slow for its queue is closed with 4008, then resumes with since: the newest in the replay, the rest over REST")
    func slowConsumer() async throws {
        try await withLimitedNode(rateLimit: 50) { base, node in
            let alice = ParleyClient(baseURL: base)
            let bob = ParleyClient(baseURL: base)
            try await alice.register(username: "fastalice", password: "password123", name: "A")
            let bobSession = try await bob.register(username: "slowbob", password: "password123", name: "B")
            let room = try await alice.addContact(username: "slowbob").room
            let text = String(repeating: "z", count: 4000)
            let total = 4000
            let code = try await connectRaw("ws://127.0.0.1:\(node.port)/ws", token: bobSession.accessToken) { inbound, outbound in
                try await outbound.write(.text(#"{"type":"subscribe","id":"s","rooms":[{"room":"\#(room)","since":0}]}"#))
                // Bob reads nothing while Alice sends far more than the socket buffers and the queue hold.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<4 {
                        group.addTask {
                            for _ in 0..<(total / 4) { try await alice.send(room: room, text: text) }
                            _ = lane
                        }
                    }
                    try await group.waitForAll()
                }
                try await drain(inbound)
            }
            #expect(code == CloseCode.slowConsumer)
            // Resuming with since loses nothing.
            let live = LiveClient(rest: bob, urls: ["ws://127.0.0.1:\(node.port)/ws"])
            try await withLive([live]) {
                _ = try await live.connected()
                try await live.follow(room, since: 0)
                let replayed = try await live.next(within: 30) { event -> Bool? in
                    if case .event(.replayDone(let replayRoom, let truncated)) = event, replayRoom == room { return truncated }
                    return nil
                }
                // More than a replay holds: the newest arrive, and the client pages the rest over REST.
                #expect(replayed)
                #expect(try await bob.messages(room: room, limit: 1).first?.seq == Int64(total))
            }
        }
    }
}

actor Answers {
    var all: [String] = []
    func add(_ text: String) { all.append(text) }
}

actor ErrorFrames {
    var count = 0
    func add(_ text: String) { count += 1 }
}
