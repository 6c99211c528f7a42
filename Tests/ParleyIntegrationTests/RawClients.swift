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

/// An embedded node with a low frame rate limit, for the gateway's limits.
func withLimitedNode<R: Sendable>(rateLimit: Int = 5, _ body: (String, NodeProcess) async throws -> R) async throws -> R {
    try await NodeProcess.withEmbedded(environment: [
        "PARLEY_RATE_LIMIT": "\(rateLimit)", "PARLEY_SEND_LIMIT": "100000", "PARLEY_JWT_SECRET": testSigningKey,
    ]) {
        node in try await body(node.baseURL, node)
    }
}

/// Connects with a raw WebSocket client and returns the close code the server sent, if any.
func connectRaw(
    _ url: String, token: String, origin: String? = nil,
    _ body: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void
) async throws -> UInt16? {
    var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
    configuration.additionalHeaders[.secWebSocketProtocol] = "parley.v1, bearer.\(token)"
    if let origin { configuration.additionalHeaders[.origin] = origin }
    let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: Logger(label: "raw")) {
        inbound, outbound, _ in try await body(inbound, outbound)
    }
    return close.map { UInt16(webSocketErrorCode: $0.closeCode) }
}

/// Sends `request` on a new TCP connection and returns the response: its head, and the body its Content-Length
/// announces. Fails after 5 s.
func rawRequest(port: Int, _ request: String) async throws -> String {
    try await rawExchange(port: port, [ByteBuffer(string: request)]) { response in
        guard let end = response.range(of: "\r\n\r\n") else { return false }
        let length =
            response[..<end.lowerBound].split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        return response[end.upperBound...].utf8.count >= length
    }
}

/// Writes `parts` on a new TCP connection, each in its own write 20 ms apart, and returns what came back once
/// `isComplete` holds for it. Fails after 5 s.
func rawExchange(port: Int, _ parts: [ByteBuffer], until isComplete: @escaping @Sendable (String) -> Bool) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    return try await channel.executeThenClose { inbound, outbound in
        for (index, part) in parts.enumerated() {
            // The pacing is the point: each part reaches the node on its own.
            if index > 0 { try await Task.sleep(for: .milliseconds(20)) }
            try await outbound.write(part)
        }
        return try await withThrowingTaskGroup(of: String.self) { group in
            // The bound of the wait on the response, not a wait itself.
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                throw ParleyError(.internal, "no complete response in 5 s")
            }
            group.addTask {
                var response = ""
                for try await part in inbound {
                    response += String(buffer: part)
                    if isComplete(response) { break }
                }
                return response
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// Reads frames until the server closes.
func drain(_ inbound: WebSocketInboundStream) async throws {
    for try await _ in inbound.messages(maxSize: 1 << 24) {}
}
