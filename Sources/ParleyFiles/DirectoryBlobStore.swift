import Foundation
import NIOCore

/// Blobs as files in a folder: the embedded default, and right for nodes that share one host. A blob is written to
/// a temporary file beside its place and renamed into it once whole, so that a reader never sees half of one.
public struct DirectoryBlobStore: BlobStore {
    public let root: URL
    /// The size of the chunks it reads.
    static let chunk = 64 * 1024

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    public func directUpload(key: String, size: Int64, contentType: String, expires: TimeInterval, now: Date) -> DirectRequest? { nil }

    public func directDownload(key: String, filename: String, contentType: String, inline: Bool, expires: TimeInterval, now: Date) -> DirectRequest? {
        nil
    }

    func path(_ key: String) -> URL { root.appendingPathComponent(key) }

    public func write<Body: AsyncSequence & Sendable>(key: String, size: Int64, contentType: String, body: Body) async throws
    where Body.Element == ByteBuffer {
        let target = path(key)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil), let file = FileHandle(forWritingAtPath: temporary.path) else {
            throw BlobStoreError(.unavailable, "cannot write \(temporary.path)")
        }
        var written: Int64 = 0
        do {
            for try await chunk in body {
                written += Int64(chunk.readableBytes)
                guard written <= size else { throw BlobStoreError(.sizeMismatch, "more than the \(size) bytes declared") }
                try file.write(contentsOf: Data(chunk.readableBytesView))
            }
            guard written == size else { throw BlobStoreError(.sizeMismatch, "\(written) bytes, not the \(size) declared") }
            try file.close()
            // Linked into place, which fails if a blob is there already: two writes of one key never replace each
            // other's bytes, and the second learns it.
            guard link(temporary.path, target.path) == 0 else {
                throw errno == EEXIST
                    ? BlobStoreError(.exists, "\(key) is stored already")
                    : BlobStoreError(.unavailable, "cannot store \(key): \(String(cString: strerror(errno)))")
            }
            try? FileManager.default.removeItem(at: temporary)
        } catch {
            try? file.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    public func read(key: String, offset: Int64, length: Int64?) async throws -> BlobBody? {
        guard let info = try await info(key: key), let file = FileHandle(forReadingAtPath: path(key).path) else { return nil }
        let start = min(max(0, offset), info.size)
        let count = min(length ?? (info.size - start), info.size - start)
        try file.seek(toOffset: UInt64(start))
        let reader = FileReader(file: file, left: count)
        return BlobBody(size: count, chunks: BlobChunks { try reader.next() })
    }

    public func info(key: String) async throws -> BlobInfo? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path(key).path),
            (attributes[.type] as? FileAttributeType) == .typeRegular, let size = attributes[.size] as? NSNumber
        else { return nil }
        return BlobInfo(size: size.int64Value, contentType: nil)
    }

    public func copy(from source: String, to target: String) async throws {
        let destination = path(target)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.copyItem(at: path(source), to: destination)
    }

    public func delete(key: String) async throws {
        do {
            try FileManager.default.removeItem(at: path(key))
        } catch CocoaError.fileNoSuchFile {
            return
        }
    }
}

/// A file read a chunk at a time, up to a count of bytes, and closed at its end.
private final class FileReader: @unchecked Sendable {
    private let file: FileHandle
    private let lock = NSLock()
    private var left: Int64

    init(file: FileHandle, left: Int64) {
        (self.file, self.left) = (file, left)
    }

    func next() throws -> ByteBuffer? {
        lock.lock()
        defer { lock.unlock() }
        guard left > 0, let data = try file.read(upToCount: Int(min(Int64(DirectoryBlobStore.chunk), left))), !data.isEmpty else {
            try? file.close()
            left = 0
            return nil
        }
        left -= Int64(data.count)
        return ByteBuffer(bytes: data)
    }

    deinit { try? file.close() }
}
