import AsyncHTTPClient
import Crypto
import Foundation
import ParleyTestSupport
import Testing

@testable import ParleyFiles

/// The signer against AWS's published examples: the S3 developer guide's (header and query signing, with its example
/// keys) and the `get-vanilla` case of the Signature V4 test suite.
@Suite struct SignatureV4Tests {
    let s3 = SignatureV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    let may24 = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    @Test func presignedGetOfTheS3Guide() {
        let request = SignatureV4.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt")
        let query = s3.presignedQuery(request, expires: 86400, at: may24)
        #expect(
            query
                == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test func getObjectOfTheS3Guide() {
        let request = SignatureV4.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", headers: [("Range", "bytes=0-9")])
        let headers = s3.authorization(request, payloadHash: SignatureV4.emptyPayload, at: may24)
        let authorization = headers.first { $0.0 == "Authorization" }?.1
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectOfTheS3Guide() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let hash = SignatureV4.hex(SHA256.hash(data: body))
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = SignatureV4.Request(
            method: "PUT", host: "examplebucket.s3.amazonaws.com", path: "/" + SignatureV4.encodePath("test$file.text"),
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")])
        let authorization = s3.authorization(request, payloadHash: hash, at: may24).first { $0.0 == "Authorization" }?.1 ?? ""
        #expect(authorization.hasSuffix("Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
        #expect(authorization.contains("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class"))
    }

    /// The test suite's `get-vanilla`: `host` and `x-amz-date` signed, no content hash header.
    @Test func getVanillaOfTheTestSuite() {
        let signer = SignatureV4(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "service")
        let time = SignatureV4.Stamp(Date(timeIntervalSince1970: 1_440_938_160))  // 2015-08-30T12:36:00Z
        #expect(time.dateTime == "20150830T123600Z")
        let request = SignatureV4.Request(method: "GET", host: "example.amazonaws.com", path: "/", headers: [("X-Amz-Date", time.dateTime)])
        let (headers, names) = signer.canonicalHeaders(request)
        #expect(names == "host;x-amz-date")
        let canonical = signer.canonicalRequest(request, headers: headers, names: names, payloadHash: SignatureV4.emptyPayload)
        #expect(signer.sign(canonical, time) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func encoding() {
        #expect(SignatureV4.encode("a b/c~d_e.f-g+h=é") == "a%20b%2Fc~d_e.f-g%2Bh%3D%C3%A9")
        #expect(SignatureV4.encodePath("files/r_1/a b.txt") == "files/r_1/a%20b.txt")
    }
}

/// Presigned URLs byte for byte as botocore (PyPI), an independent signer, writes them for the same inputs and the
/// same clock: moto, the test S3 server, does not check signatures.
@Suite struct BotocoreTests {
    static let script = """
        import datetime, sys
        from unittest import mock
        import botocore.session
        from botocore.config import Config
        endpoint, bucket, key, content_type, when = sys.argv[1:6]
        client = botocore.session.get_session().create_client(
            "s3", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        instant = datetime.datetime.fromtimestamp(int(when), datetime.timezone.utc)
        with mock.patch("botocore.auth.get_current_datetime", return_value=instant):
            print(client.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": content_type, "ContentLength": 10},
                ExpiresIn=300))
            print(client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": sys.argv[6],
                "ResponseContentType": content_type}, ExpiresIn=300))
        """

    @Test(.enabled(if: TestServers.python.enabled)) func presignedURLsMatchBotocore() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let store = try S3BlobStore(
            bucket: "chat-files", endpoint: "http://127.0.0.1:9000", region: "eu-west-1", accessKey: "AKIDEXAMPLE",
            secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", http: http)
        let when = Date(timeIntervalSince1970: 1_796_644_800)
        let key = "files/r_1/f 1", disposition = ContentDisposition.header(filename: "a b.png", inline: true)
        let ours = [
            store.directUpload(key: key, size: 10, contentType: "image/png", expires: 300, now: when)?.url,
            store.directDownload(key: key, filename: "a b.png", contentType: "image/png", inline: true, expires: 300, now: when)?.url,
        ]
        try await http.shutdown()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestServers.python.require())
        process.arguments = ["-c", Self.script, "http://127.0.0.1:9000", "chat-files", key, "image/png", "1796644800", disposition]
        let output = Pipe()
        process.standardOutput = output
        try launch(process)
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(ours == printed.split(separator: "\n").map(String.init))
    }
}
