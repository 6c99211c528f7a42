import Foundation
import NIOCore
import NIOHTTP1
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("A connection's first request, read by hand")
struct FirstRequestTests {
    @Test("a head is complete at its blank line, incomplete before it, and what follows is not part of it")
    func completeHead() throws {
        let head = "GET /ws?since=3 HTTP/1.1\r\nHost: node.example\r\nUpgrade:  websocket \r\nX-Empty:\r\nX-Tab:\tvalue\t\r\n\r\n"
        let reading = RequestHead.read(ByteBuffer(string: head + "after the head"))
        guard case .complete(let request, let length) = reading else {
            Issue.record("not complete: \(reading)")
            return
        }
        #expect(length == head.utf8.count)
        #expect(request.method == .GET)
        #expect(request.uri == "/ws?since=3")
        #expect(request.version == .http1_1)
        #expect(
            request.headers.map { [$0.name, $0.value] } == [
                ["Host", "node.example"], ["Upgrade", "websocket"], ["X-Empty", ""], ["X-Tab", "value"],
            ])
        #expect(request.asksForWebSocket)
        for end in 0..<head.utf8.count {
            #expect(RequestHead.read(ByteBuffer(bytes: Array(head.utf8.prefix(end)))) == .incomplete, "after \(end) bytes")
            // Read again with one byte more, as a head that comes a byte at a time is, searching on from here.
            let more = ByteBuffer(bytes: Array((head + "after").utf8.prefix(end + 1)))
            let expected: RequestHead.Reading = end + 1 == head.utf8.count ? RequestHead.read(more) : .incomplete
            #expect(RequestHead.read(more, searched: end) == expected, "after \(end + 1) bytes, searched from \(end)")
        }
        let post = "POST /api/rooms HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"
        guard case .complete(let plain, _) = RequestHead.read(ByteBuffer(string: post)) else {
            Issue.record("not complete: \(post)")
            return
        }
        #expect(plain.method == .POST && plain.version == .http1_0 && !plain.asksForWebSocket)
    }

    @Test("a head longer than 16 KiB, a folded header, or a line that is not HTTP/1.x is refused")
    func refusedHeads() {
        let long = String(repeating: "x", count: RequestHead.maxBytes)
        #expect(
            RequestHead.read(ByteBuffer(string: "GET / HTTP/1.1\r\nX-Long: \(long)")) == .refused(.tooLarge, "the request head is longer than 16 KiB")
        )
        #expect(
            RequestHead.read(ByteBuffer(string: "GET / HTTP/1.1\r\nX-Long: \(long)\r\n\r\n"))
                == .refused(.tooLarge, "the request head is longer than 16 KiB"))
        let malformed = [
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: a\r\n\r\n",
            "GET / HTTP/1.1\r\n: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "\r\n\r\n",
        ]
        for head in malformed {
            guard case .refused(let code, _) = RequestHead.read(ByteBuffer(string: head)) else {
                Issue.record("read as a head: \(head.debugDescription)")
                continue
            }
            #expect(code == .badRequest, "\(head.debugDescription)")
        }
    }

    @Test("a WebSocket handshake needs GET over HTTP/1.1, Connection: Upgrade, version 13 and a 16-byte key")
    func handshake() {
        func head(_ method: HTTPMethod = .GET, _ version: HTTPVersion = .http1_1, dropping: String? = nil, _ extra: [(String, String)] = [])
            -> HTTPRequestHead
        {
            let headers = [
                ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"), ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ]
            return HTTPRequestHead(
                version: version, method: method, uri: "/ws", headers: HTTPHeaders(headers.filter { $0.0 != dropping } + extra))
        }
        #expect(head().webSocketHandshakeError == nil)
        // RFC 6455's own example, section 1.3.
        #expect(head().webSocketAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(head(.POST).webSocketHandshakeError?.code == .badRequest)
        #expect(head(.GET, .http1_0).webSocketHandshakeError?.code == .badRequest)
        #expect(head(dropping: "Connection").webSocketHandshakeError?.code == .badRequest)
        #expect(head(dropping: "Sec-WebSocket-Version").webSocketHandshakeError?.code == .badRequest)
        #expect(head(dropping: "Sec-WebSocket-Version", [("Sec-WebSocket-Version", "8")]).webSocketHandshakeError?.code == .badRequest)
        #expect(head(dropping: "Sec-WebSocket-Key").webSocketHandshakeError?.code == .badRequest)
        #expect(head(dropping: "Sec-WebSocket-Key", [("Sec-WebSocket-Key", "c2hvcnQ=")]).webSocketHandshakeError?.code == .badRequest)
        #expect(head(dropping: "Upgrade").asksForWebSocket == false)
    }
}
