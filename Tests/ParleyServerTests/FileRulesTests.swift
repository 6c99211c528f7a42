import Foundation
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Files' rules, links and the page's policy")
struct FileRulesTests {
    @Test("names lose folders and invisible characters; types are type/subtype in lower case")
    func names() throws {
        #expect(try FileRules.name("../../etc/passwd") == "passwd")
        #expect(try FileRules.name("C:\\Users\\me\\report.pdf") == "report.pdf")
        #expect(try FileRules.name("a\u{202E}gpj.exe") == "agpj.exe")
        for bad in ["", "/", "..", "  "] { #expect(throws: ParleyError.self) { _ = try FileRules.name(bad) } }
        #expect(try FileRules.contentType("Image/PNG; charset=x") == "image/png")
        for bad in ["png", "image/", "a/b/c", "text/plain\u{0}"] { #expect(throws: ParleyError.self) { _ = try FileRules.contentType(bad) } }
    }

    @Test("images must begin as their type says, and only images, audio and video show inline")
    func magic() {
        #expect(FileRules.bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0], match: "image/png"))
        #expect(!FileRules.bytes(Array("<svg>".utf8), match: "image/png"))
        #expect(FileRules.bytes(Array("RIFF1234WEBPVP8".utf8), match: "image/webp"))
        #expect(FileRules.bytes(Array("anything".utf8), match: "application/pdf"))
        #expect(FileRules.isInline("image/gif") && FileRules.isInline("audio/ogg") && FileRules.isInline("video/webm"))
        #expect(!FileRules.isInline("image/svg+xml") && !FileRules.isInline("text/html"))
    }

    @Test("a link is good for its file and action until it expires, and for nothing else")
    func links() throws {
        let signer = FileURLSigner(secret: "a signing key of thirty-two bytes or more")
        let now = Date()
        let url = signer.url("f_1", action: "get", expires: now.addingTimeInterval(60))
        let query = Dictionary(uniqueKeysWithValues: URLComponents(string: url)!.queryItems!.map { ($0.name, $0.value!) })
        func check(_ file: String, _ action: String, at time: Date, signature: String? = nil) -> Bool {
            signer.check(file, action: action, expires: query["expires"], signature: signature ?? query["signature"], now: time)
        }
        #expect(check("f_1", "get", at: now))
        #expect(!check("f_2", "get", at: now) && !check("f_1", "put", at: now) && !check("f_1", "get", at: now.addingTimeInterval(61)))
        #expect(!check("f_1", "get", at: now, signature: String(repeating: "0", count: 64)))
        #expect(!FileURLSigner(secret: "another key of thirty-two bytes or more").check(
            "f_1", action: "get", expires: query["expires"], signature: query["signature"], now: now))
    }

    @Test("with files in a bucket, the page may connect to the bucket's public address")
    func policy() throws {
        var configuration = Configuration()
        #expect(try fileOrigins(configuration).isEmpty)
        configuration.files = "s3://files?endpoint=http://minio:9000&public=https://files.example.com:9443"
        let origins = try fileOrigins(configuration)
        #expect(origins == ["https://files.example.com:9443"])
        #expect(SecurityHeaders(connectSources: origins).fields.contains { $0.1.contains("connect-src 'self' https://files.example.com:9443;") })
    }

    @Test("a file may hold 25 MiB, and one never sent is swept after a day, unless the environment says otherwise")
    func limits() throws {
        let defaults = try Configuration(environment: [:])
        #expect(defaults.fileMaxBytes == 25 * 1024 * 1024 && defaults.fileUnsentTTL == 24 * 60 * 60)
        let set = try Configuration(environment: ["PARLEY_FILE_MAX_BYTES": "1024", "PARLEY_FILE_UNSENT_TTL": "60"])
        #expect(set.fileMaxBytes == 1024 && set.fileUnsentTTL == 60)
        #expect(throws: ConfigurationError.self) { try Configuration(environment: ["PARLEY_FILE_MAX_BYTES": "0"]) }
    }
}
