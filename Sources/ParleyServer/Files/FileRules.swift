import Crypto
import Foundation
import ParleyCore

/// What Parley holds files to: names made safe, types that say what the bytes are, and how a browser may show them.
enum FileRules {
    /// The types a browser shows in the page; their bytes must begin as the type says.
    static let images: [String: [[UInt8?]]] = [
        "image/png": [[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]],
        "image/jpeg": [[0xFF, 0xD8, 0xFF]],
        "image/gif": [Array("GIF87a".utf8), Array("GIF89a".utf8)],
        // RIFF, four bytes of size, WEBP.
        "image/webp": [Array("RIFF".utf8) + [nil, nil, nil, nil] + Array("WEBP".utf8)],
    ]

    /// How many leading bytes `sniff` looks at.
    static let sniffLength = 12

    /// Whether the first bytes agree with the declared type: an image type must begin with its magic bytes; other
    /// types are not checked.
    static func bytes(_ head: [UInt8], match contentType: String) -> Bool {
        guard let patterns = images[contentType] else { return true }
        return patterns.contains { pattern in
            head.count >= pattern.count && zip(head, pattern).allSatisfy { byte, expected in expected == nil || byte == expected }
        }
    }

    /// Shown in the page rather than saved: the images above, audio and video. Everything else, SVG and HTML
    /// included, downloads as an attachment.
    static func isInline(_ contentType: String) -> Bool {
        images[contentType] != nil || contentType.hasPrefix("audio/") || contentType.hasPrefix("video/")
    }

    /// A file name as Parley keeps it: the last path component, without control or bidi characters, at most 200
    /// characters, and never empty or a dot name.
    static func name(_ raw: String) throws -> String {
        let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(
            String.UnicodeScalarView(
                last.unicodeScalars.filter { scalar in
                    !(scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format)
                })
        ).trimmingCharacters(in: .whitespaces)
        let name = String(cleaned.prefix(200))
        guard !name.isEmpty, name != ".", name != ".." else { throw ParleyError.invalid("name", "must name a file") }
        return name
    }

    /// A MIME type, `type/subtype` in lower case with no parameters.
    static func contentType(_ raw: String) throws -> String {
        let type = raw.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let token = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")
        let parts = type.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, type.count <= 127, parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(token.contains) }) else {
            throw ParleyError.invalid("contentType", "must be a MIME type such as image/png")
        }
        return type
    }
}

/// Parley's own short-lived URLs for a file's bytes, when they live in a folder: the path, an expiry and an HMAC of
/// both under a key derived from the node's signing key, so that every node checks what any node signed.
struct FileURLSigner: Sendable {
    let key: SymmetricKey

    init(secret: String) {
        key = SymmetricKey(data: SHA256.hash(data: Data("parley-files:\(secret)".utf8)))
    }

    func url(_ file: String, action: String, expires: Date) -> String {
        let until = Int64(expires.timeIntervalSince1970)
        return "/api/files/\(file)/content?action=\(action)&expires=\(until)&signature=\(signature(file, action, until))"
    }

    /// Whether the query signs this file and action, and has not expired.
    func check(_ file: String, action: String?, expires: String?, signature given: String?, now: Date) -> Bool {
        guard let action, let expires, let until = Int64(expires), Int64(now.timeIntervalSince1970) <= until,
            let given, given.utf8.count == 64, let mac = Self.bytes(hex: given)
        else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(file, action, until), using: key)
    }

    private func signature(_ file: String, _ action: String, _ until: Int64) -> String {
        HMAC<SHA256>.authenticationCode(for: Self.message(file, action, until), using: key).map { String(format: "%02x", $0) }.joined()
    }

    private static func message(_ file: String, _ action: String, _ until: Int64) -> Data { Data("\(action):\(file):\(until)".utf8) }

    private static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in hex.utf8 {
            guard let nibble = character.hexDigitValue else { return nil }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }
}

extension UInt8 {
    /// The value of an ASCII hex digit, lower or upper case.
    fileprivate var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
