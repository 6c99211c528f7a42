import Foundation
import NIOCore
import NIOHTTP1
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@testable import ParleyServer

@Suite("A connection's first request, on a real node")
struct FirstRequestNodeTests {
    @Test(
        "on a real node: an upgrade in pieces opens, a frame right behind it is answered, a broken one gets 400 or 413 and JSON, HTTP keeps its connection"
    )
    func onANode() async throws {
        try await withLimitedNode { base, node in
            let session = try await ParleyClient(baseURL: base).register(username: "firstrequest", password: "password123", name: "F")
            func upgrade(_ extra: String = "", version: String = "13") -> String {
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(node.port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: \(version)\r\n"
                    + "Sec-WebSocket-Protocol: parley.v1, bearer.\(session.accessToken)\r\n\(extra)\r\n"
            }
            let request = upgrade()
            let cuts = [0, 3, 40, request.utf8.count / 2, request.utf8.count - 3, request.utf8.count - 1, request.utf8.count]
            let pieces = zip(cuts, cuts.dropFirst()).map { ByteBuffer(bytes: Array(request.utf8)[$0..<$1]) }
            let inPieces = try await rawExchange(port: node.port, pieces) { $0.contains(#""type":"hello""#) }
            #expect(inPieces.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
            #expect(inPieces.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
            #expect(inPieces.contains(#""type":"hello""#))

            var together = ByteBuffer(string: request)
            together.writeMaskedText(#"{"type":"ping","id":"right-behind"}"#)
            let answered = try await rawExchange(port: node.port, [together]) { $0.contains(#""re":"right-behind""#) }
            #expect(answered.contains(#""re":"right-behind""#))

            let keyless = try await rawRequest(port: node.port, upgrade().replacingOccurrences(of: "Sec-WebSocket-Key", with: "X-Key"))
            #expect(keyless.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
            #expect(keyless.contains(#""code":"bad_request""#))
            let oldVersion = try await rawRequest(port: node.port, upgrade(version: "8"))
            #expect(oldVersion.hasPrefix("HTTP/1.1 400 "))
            #expect(oldVersion.contains("Sec-WebSocket-Version 13"))
            #expect(oldVersion.contains("\r\nSec-WebSocket-Version: 13\r\n"))
            let huge = try await rawRequest(port: node.port, upgrade("X-Padding: \(String(repeating: "p", count: 20_000))\r\n"))
            #expect(huge.hasPrefix("HTTP/1.1 413 "))
            #expect(huge.contains(#""code":"too_large""#))

            let twice = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let both = try await rawExchange(port: node.port, [ByteBuffer(string: twice), ByteBuffer(string: twice)]) {
                $0.components(separatedBy: "HTTP/1.1 200 OK").count == 3
            }
            #expect(both.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        }
    }
}

extension ByteBuffer {
    /// A client's text frame, masked as RFC 6455 requires, for a payload under 126 bytes.
    fileprivate mutating func writeMaskedText(_ text: String) {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        writeBytes([0x81, 0x80 | UInt8(payload.count)] + mask)
        writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
    }
}
