import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import ParleyCore

/// A connection's first request head, read by hand: enough to tell a WebSocket upgrade from any other request and
/// to check its handshake, with no HTTP parser on the pipeline (`FirstRequestHandler`).
enum RequestHead {
    /// The longest head taken, its blank line included: a request line, a handful of headers and an access token
    /// fit many times over.
    static let maxBytes = 16 * 1024

    enum Reading: Equatable {
        /// The blank line that ends the head has not arrived yet.
        case incomplete
        /// The head, and how many bytes it took with its blank line.
        case complete(HTTPRequestHead, length: Int)
        /// Too long, or not HTTP/1.x: answered with this error.
        case refused(ParleyError.Code, String)
    }

    /// Reads the head at the start of `buffer`. Lines end with CRLF; a header folded onto a second line (obsolete
    /// since RFC 7230) is refused, as is a request line that is not `METHOD target HTTP/1.x`. `searched` bytes are
    /// known to hold no CRLF CRLF (a read before this one found none), so that a head that comes a byte at a time
    /// is not searched from its start on every read.
    static func read(_ buffer: ByteBuffer, searched: Int = 0) -> Reading {
        buffer.withUnsafeReadableBytes { bytes in
            guard let end = headEnd(in: bytes, from: searched) else {
                return bytes.count > maxBytes ? tooLarge : .incomplete
            }
            guard end <= maxBytes else { return tooLarge }
            var lines = Lines(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<(end - 2)]))
            guard let requestLine = lines.next(), let request = parseRequestLine(requestLine) else {
                return .refused(.badRequest, "the request line is not METHOD target HTTP/1.1")
            }
            var headers: [(String, String)] = []
            while let line = lines.next() {
                guard let header = parseHeader(line) else {
                    return .refused(.badRequest, "a header line is not name: value")
                }
                headers.append(header)
            }
            let head = HTTPRequestHead(version: request.version, method: request.method, uri: request.uri, headers: HTTPHeaders(headers))
            return .complete(head, length: end)
        }
    }

    private static let tooLarge = Reading.refused(.tooLarge, "the request head is longer than \(maxBytes / 1024) KiB")

    /// The index just past the first CRLF CRLF, which does not end within the first `searched` bytes.
    private static func headEnd(in bytes: UnsafeRawBufferPointer, from searched: Int) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = max(3, searched)
        while index < bytes.count {
            if bytes[index] == lf, bytes[index - 1] == cr, bytes[index - 2] == lf, bytes[index - 3] == cr { return index + 1 }
            index += 1
        }
        return nil
    }

    private static func parseRequestLine(_ line: UnsafeRawBufferPointer) -> (method: HTTPMethod, uri: String, version: HTTPVersion)? {
        let parts = line.split(separator: space, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte), !parts[1].isEmpty,
            !parts[1].contains(where: { $0 <= space || $0 == 0x7F })
        else { return nil }
        let version: HTTPVersion
        switch String(decoding: parts[2], as: UTF8.self) {
        case "HTTP/1.1": version = .http1_1
        case "HTTP/1.0": version = .http1_0
        default: return nil
        }
        return (HTTPMethod(rawValue: String(decoding: parts[0], as: UTF8.self)), String(decoding: parts[1], as: UTF8.self), version)
    }

    /// `name: value`, the value without the spaces and tabs around it.
    private static func parseHeader(_ line: UnsafeRawBufferPointer) -> (String, String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0, line[..<colon].allSatisfy(isTokenByte) else { return nil }
        var (from, to) = (colon + 1, line.count)
        while from < to, line[from] == space || line[from] == tab { from += 1 }
        while to > from, line[to - 1] == space || line[to - 1] == tab { to -= 1 }
        let value = line[from..<to]
        guard !value.contains(where: { ($0 < space && $0 != tab) || $0 == 0x7F }) else { return nil }
        return (String(decoding: line[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// RFC 9110's `tchar`: the bytes of a method or a header name.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static let (cr, lf, space, tab) = (UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: " "), UInt8(ascii: "\t"))

    /// The lines of a head without its blank line, each ended by CRLF.
    private struct Lines {
        let bytes: UnsafeRawBufferPointer
        var start = 0

        mutating func next() -> UnsafeRawBufferPointer? {
            guard start < bytes.count else { return nil }
            var end = start
            while end + 1 < bytes.count, !(bytes[end] == RequestHead.cr && bytes[end + 1] == RequestHead.lf) { end += 1 }
            defer { start = end + 2 }
            return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        }
    }
}

extension HTTPRequestHead {
    /// Whether it asks for a WebSocket (`Upgrade: websocket`); `webSocketHandshakeError` says whether it may have one.
    var asksForWebSocket: Bool {
        headers[canonicalForm: "Upgrade"].contains { $0.lowercased() == "websocket" }
    }

    /// What makes this request no WebSocket opening handshake (RFC 6455, 4.2.1), or nil.
    var webSocketHandshakeError: ParleyError? {
        guard method == .GET, version == .http1_1 else {
            return ParleyError(.badRequest, "a WebSocket upgrade is a GET over HTTP/1.1")
        }
        guard headers[canonicalForm: "Connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return ParleyError(.badRequest, "a WebSocket upgrade needs Connection: Upgrade")
        }
        guard headers["Sec-WebSocket-Version"] == ["13"] else {
            return ParleyError(.badRequest, "this server speaks Sec-WebSocket-Version 13")
        }
        let keys = headers["Sec-WebSocket-Key"]
        guard keys.count == 1, Data(base64Encoded: keys[0])?.count == 16 else {
            return ParleyError(.badRequest, "a WebSocket upgrade needs one Sec-WebSocket-Key of 16 bytes in base64")
        }
        return nil
    }

    /// `Sec-WebSocket-Accept` for the request's key: the SHA-1 of the key and RFC 6455's GUID, in base64.
    var webSocketAccept: String {
        let key = headers.first(name: "Sec-WebSocket-Key") ?? ""
        return Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}
