import Crypto
import Foundation

/// AWS Signature Version 4, as S3 and every S3-compatible store (MinIO, Spaces, R2) check it: for requests Parley
/// makes to the bucket, signed in an `Authorization` header, and for presigned URLs, signed in the query, which a
/// client uses to send or fetch a file's bytes straight from the bucket.
public struct SignatureV4: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var region: String
    public var service: String

    /// The payload hash of a request whose body is not signed: presigned uploads, whose bytes the client sends.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The hash of an empty body.
    public static let emptyPayload = hex(SHA256.hash(data: Data()))

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        (self.accessKey, self.secretKey, self.region, self.service) = (accessKey, secretKey, region, service)
    }

    /// A request to sign: its method, its URL's host, path and query, and the headers to sign besides `host`.
    public struct Request: Sendable {
        public var method: String
        public var host: String
        /// Percent-encoded already, as it goes on the wire (`/bucket/a%20b.txt`).
        public var path: String
        public var query: [(String, String)]
        public var headers: [(String, String)]

        public init(method: String, host: String, path: String, query: [(String, String)] = [], headers: [(String, String)] = []) {
            (self.method, self.host, self.path, self.query, self.headers) = (method, host, path, query, headers)
        }
    }

    /// The headers that sign `request` with its body's SHA-256 (`x-amz-date`, `x-amz-content-sha256` and
    /// `Authorization`), to add to it.
    public func authorization(_ request: Request, payloadHash: String, at date: Date) -> [(String, String)] {
        let time = Stamp(date)
        var signed = request
        signed.headers += [("x-amz-content-sha256", payloadHash), ("x-amz-date", time.dateTime)]
        let (headers, names) = canonicalHeaders(signed)
        let signature = sign(canonicalRequest(signed, headers: headers, names: names, payloadHash: payloadHash), time)
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope(time)), SignedHeaders=\(names), Signature=\(signature)"
        return [("x-amz-content-sha256", payloadHash), ("x-amz-date", time.dateTime), ("Authorization", authorization)]
    }

    /// The query of a presigned URL for `request`, valid for `expires` seconds from `date`: the request's own query,
    /// then the signature's parameters, encoded.
    public func presignedQuery(_ request: Request, expires: Int, at date: Date) -> String {
        let time = Stamp(date)
        var signed = request
        let (headers, names) = canonicalHeaders(signed)
        signed.query += [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "\(accessKey)/\(scope(time))"),
            ("X-Amz-Date", time.dateTime), ("X-Amz-Expires", String(expires)), ("X-Amz-SignedHeaders", names),
        ]
        let signature = sign(canonicalRequest(signed, headers: headers, names: names, payloadHash: Self.unsignedPayload), time)
        // In the order botocore writes them: the request's own parameters, the signature's, the signature.
        return (signed.query + [("X-Amz-Signature", signature)]).map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
    }

    // MARK: The steps

    func canonicalRequest(_ request: Request, headers: String, names: String, payloadHash: String) -> String {
        [request.method, request.path.isEmpty ? "/" : request.path, Self.canonicalQuery(request.query), headers, names, payloadHash]
            .joined(separator: "\n")
    }

    /// `name:value\n` for `host` and each header, lower-cased, trimmed and sorted, and the names joined by `;`.
    func canonicalHeaders(_ request: Request) -> (String, String) {
        var headers: [(name: String, value: String)] = [("host", request.host)]
        for (name, value) in request.headers {
            headers.append((name.lowercased(), value.split(separator: " ").joined(separator: " ")))
        }
        headers.sort { $0.name < $1.name }
        let lines = headers.map { "\($0.name):\($0.value)\n" }.joined()
        return (lines, headers.map(\.name).joined(separator: ";"))
    }

    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(key: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        return encoded.sorted { $0.key == $1.key ? $0.value < $1.value : $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    func sign(_ canonicalRequest: String, _ time: Stamp) -> String {
        let toSign = ["AWS4-HMAC-SHA256", time.dateTime, scope(time), Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [time.date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
    }

    func scope(_ time: Stamp) -> String { "\(time.date)/\(region)/\(service)/aws4_request" }

    /// RFC 3986 percent-encoding, as SigV4 wants it: all but the unreserved characters, `/` included.
    public static func encode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }

    /// A path's segments each encoded, its slashes kept: an object key as it goes in a URL.
    public static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// A signing time as SigV4 writes it: `20130524T000000Z` and `20130524`, in UTC.
    struct Stamp {
        let dateTime: String
        let date: String

        init(_ instant: Date) {
            let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: instant)
            date = String(format: "%04d%02d%02d", parts.year!, parts.month!, parts.day!)
            dateTime = date + String(format: "T%02d%02d%02dZ", parts.hour!, parts.minute!, parts.second!)
        }
    }
}
