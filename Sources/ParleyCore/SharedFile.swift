/// A file shared in a room, as messages and answers show it.
public struct FileRef: Codable, Hashable, Sendable {
    public var id: String
    /// The name it was uploaded with, made safe (no folders, no control characters).
    public var name: String
    public var size: Int64
    public var contentType: String

    public init(id: String, name: String, size: Int64, contentType: String) {
        (self.id, self.name, self.size, self.contentType) = (id, name, size, contentType)
    }
}

/// A file as the store keeps it: who uploaded it where, whether its bytes are in, and the message it went out with.
public struct StoredFile: Hashable, Sendable {
    public var ref: FileRef
    public var room: String
    public var uploader: String
    public var createdAt: Timestamp
    /// When its bytes were received whole; nil while the upload is pending.
    public var storedAt: Timestamp?
    /// The message it is attached to; nil until sent.
    public var messageSeq: Int64?

    public init(ref: FileRef, room: String, uploader: String, createdAt: Timestamp, storedAt: Timestamp? = nil, messageSeq: Int64? = nil) {
        (self.ref, self.room, self.uploader, self.createdAt, self.storedAt, self.messageSeq) = (ref, room, uploader, createdAt, storedAt, messageSeq)
    }

    /// Where its bytes live in the blob store: Parley's own key, never the user's file name.
    public var key: String { "files/\(room)/\(ref.id)" }
    /// Where a client sends its bytes straight to the bucket: checked there, and copied to `key` before the file is
    /// sent, so that the upload link, still good for a while, cannot change what members download.
    public var uploadKey: String { "uploads/\(room)/\(ref.id)" }
}
