import AsyncHTTPClient
import Foundation
import NIOCore
import ParleyTestSupport
import Testing

@testable import ParleyFiles

/// Every BlobStore behaves alike: a folder, and an S3 bucket on the test S3 server (moto's, from scripts/test).
@Suite struct BlobStoreTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case directory, s3
        var testDescription: String { rawValue }
    }

    /// A store of `kind` with a folder or bucket of its own, and the HTTP client a test uses as a client would.
    func withStore(_ kind: Kind, _ body: (any BlobStore, HTTPClient) async throws -> Void) async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await withStore(kind, http, body)
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func withStore(_ kind: Kind, _ http: HTTPClient, _ body: (any BlobStore, HTTPClient) async throws -> Void) async throws {
        switch kind {
        case .directory:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-blobs-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try await body(try DirectoryBlobStore(root: folder), http)
        case .s3:
            let store = try S3BlobStore(
                bucket: "parley-test-\(UUID().uuidString.prefix(8).lowercased())", endpoint: try TestServers.s3.require(),
                region: "us-east-1", accessKey: "test-access", secretKey: "test-secret", http: http)
            try await store.createBucket()
            try await body(store, http)
        }
    }

    /// The bytes as a body of chunks, as an upload's arrive.
    static func chunks(_ bytes: [UInt8], size: Int = 1000) -> Chunks {
        Chunks(buffers: stride(from: 0, to: bytes.count, by: size).map { ByteBuffer(bytes: bytes[$0..<min($0 + size, bytes.count)]) })
    }

    struct Chunks: AsyncSequence, Sendable {
        let buffers: [ByteBuffer]

        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: ArraySlice<ByteBuffer>
            mutating func next() async -> ByteBuffer? { rest.popFirst() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: buffers[...]) }
    }

    static func collect(_ body: BlobBody?) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in try #require(body).chunks { bytes += chunk.readableBytesView }
        return bytes
    }

    @Test(arguments: Kind.allCases) func writeReadRangeDelete(_ kind: Kind) async throws {
        try await withStore(kind) { store, _ in
            let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try await store.write(key: "files/r_1/f_1", size: Int64(bytes.count), contentType: "application/pdf", body: Self.chunks(bytes))
            #expect(try await store.info(key: "files/r_1/f_1")?.size == Int64(bytes.count))
            #expect(try await Self.collect(store.read(key: "files/r_1/f_1", offset: 0, length: nil)) == bytes)
            #expect(try await Self.collect(store.read(key: "files/r_1/f_1", offset: 100, length: 50)) == Array(bytes[100..<150]))
            try await store.copy(from: "files/r_1/f_1", to: "files/r_2/f_1")
            #expect(try await Self.collect(store.read(key: "files/r_2/f_1", offset: 0, length: nil)) == bytes)
            try await store.delete(key: "files/r_1/f_1")
            #expect(try await store.info(key: "files/r_1/f_1") == nil)
            #expect(try await store.read(key: "files/r_1/f_1", offset: 0, length: nil) == nil)
            try await store.delete(key: "files/r_1/f_1")
        }
    }

    @Test(arguments: Kind.allCases) func aBodyOfAnotherSizeLeavesNothing(_ kind: Kind) async throws {
        try await withStore(kind) { (store: any BlobStore, _: HTTPClient) async throws in
            let bytes = [UInt8](repeating: 7, count: 5000)
            for declared in [4000, 6000] {
                await #expect(throws: (any Error).self) {
                    try await store.write(key: "files/r_1/short", size: Int64(declared), contentType: "text/plain", body: Self.chunks(bytes))
                }
                let stored = try await store.info(key: "files/r_1/short")
                #expect(stored == nil)
            }
        }
    }

    /// Two uploads of one file to a folder: the first stays, the second learns it was too late.
    @Test func aFolderKeepsTheFirstOfTwoWrites() async throws {
        try await withStore(.directory) { store, _ in
            try await store.write(key: "files/r_1/f_3", size: 3, contentType: "text/plain", body: Self.chunks([1, 2, 3]))
            await #expect(throws: BlobStoreError.self) {
                try await store.write(key: "files/r_1/f_3", size: 3, contentType: "text/plain", body: Self.chunks([4, 5, 6]))
            }
            #expect(try await Self.collect(store.read(key: "files/r_1/f_3", offset: 0, length: nil)) == [1, 2, 3])
        }
    }

    /// A client moves the bytes itself with the presigned URLs: up with the declared type, down with the name and
    /// the disposition asked for.
    @Test func presignedUploadAndDownload() async throws {
        try await withStore(.s3) { store, http in
            let bytes = Array("a photo of a cat, or near enough".utf8)
            let upload = try #require(store.directUpload(key: "files/r_1/f_2", size: Int64(bytes.count), contentType: "image/png", expires: 300, now: Date()))
            var put = HTTPClientRequest(url: upload.url)
            put.method = .PUT
            for (name, value) in upload.headers { put.headers.add(name: name, value: value) }
            put.body = .bytes(ByteBuffer(bytes: bytes))
            let stored = try await http.execute(put, timeout: .seconds(10))
            #expect(stored.status == .ok)
            #expect(try await store.info(key: "files/r_1/f_2") == BlobInfo(size: Int64(bytes.count), contentType: "image/png"))

            let download = try #require(
                store.directDownload(key: "files/r_1/f_2", filename: "chat ☕.png", contentType: "image/png", inline: true, expires: 300, now: Date()))
            let fetched = try await http.execute(HTTPClientRequest(url: download.url), timeout: .seconds(10))
            #expect(fetched.status == .ok)
            #expect(fetched.headers.first(name: "content-disposition") == "inline; filename=\"chat _.png\"; filename*=UTF-8''chat%20%E2%98%95.png")
            #expect(Array(try await fetched.body.collect(upTo: 1 << 20).readableBytesView) == bytes)
        }
    }

    @Test func locations() throws {
        #expect(try BlobStoreLocation("dir:/var/lib/parley/files") == .directory("/var/lib/parley/files"))
        #expect(
            try BlobStoreLocation("s3://chat-files?endpoint=http://127.0.0.1:9000&region=eu-west-1")
                == .s3(bucket: "chat-files", endpoint: "http://127.0.0.1:9000", region: "eu-west-1"))
        #expect(
            try BlobStoreLocation("s3://chat-files?endpoint=http://minio:9000&public=https://files.example.com")
                == .s3(bucket: "chat-files", endpoint: "http://minio:9000", region: "us-east-1", publicEndpoint: "https://files.example.com"))
        #expect(try BlobStoreLocation("s3://chat-files") == .s3(bucket: "chat-files", endpoint: "https://s3.us-east-1.amazonaws.com", region: "us-east-1"))
        for bad in ["dir:", "s3://", "ftp://x", "s3://b?endpoint=file:///etc"] {
            #expect(throws: BlobStoreError.self) { _ = try BlobStoreLocation(bad) }
        }
    }
}
