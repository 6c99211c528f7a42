import AsyncHTTPClient
import Foundation
import NIOCore
import ParleyClient
import ParleyCore
import ParleyTestSupport
import Testing

@Suite("Files sent over the socket, on one embedded node")
struct LiveFilesTests {
    @Test("a file announced, uploaded through its link and sent in a `send` frame reaches the other member with the message")
    func sendAFile() async throws {
        try await NodeProcess.withEmbedded { node in
            let pair = try await LivePair.make(api: node.baseURL, ws: [node.webSocketURL])
            let bytes = ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 2000))
            let token = try #require(pair.alice.rest.currentSession?.accessToken)

            var announce = HTTPClientRequest(url: "\(node.baseURL)/api/rooms/\(pair.room)/files")
            announce.method = .POST
            announce.headers.add(name: "Authorization", value: "Bearer \(token)")
            announce.headers.add(name: "Content-Type", value: "application/json")
            announce.body = .bytes(ByteBuffer(string: #"{"name":"dot.png","size":\#(bytes.readableBytes),"contentType":"image/png"}"#))
            let announced = try await HTTPClient.shared.execute(announce, timeout: .seconds(10))
            #expect(announced.status == .created)
            let answer = try JSONDecoder().decode(JSONValue.self, from: try await announced.body.collect(upTo: 1 << 16))
            let id = try #require(answer["file"]["id"].string), url = try #require(answer["upload"]["url"].string)

            var upload = HTTPClientRequest(url: node.baseURL + url)
            upload.method = .PUT
            upload.headers.add(name: "Content-Type", value: "image/png")
            upload.body = .bytes(bytes)
            #expect(try await HTTPClient.shared.execute(upload, timeout: .seconds(10)).status == .noContent)

            try await withLive([pair.alice, pair.bob]) {
                _ = try await pair.alice.connected()
                _ = try await pair.bob.connected()
                try await pair.bob.follow(pair.room)
                let file = FileRef(id: id, name: "dot.png", size: Int64(bytes.readableBytes), contentType: "image/png")
                let reply = try await pair.alice.request(.send(room: pair.room, clientId: UUID().uuidString, text: "", files: [id]))
                #expect(reply.message?.files == [file] && reply.message?.text == "")
                let received = try await pair.bob.nextMessages(1)
                #expect(received.map(\.files) == [[file]])
                // A file goes out once.
                await #expect(throws: ParleyError.self) {
                    try await pair.alice.request(.send(room: pair.room, clientId: UUID().uuidString, text: "again", files: [id]))
                }
            }
        }
    }
}
