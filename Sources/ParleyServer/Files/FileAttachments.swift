import ParleyCore
import ParleyFiles
import ParleyStore

/// What happens to files as messages take them up and let them go: the bytes a client sent straight to the bucket
/// are checked before they are sent (their size, and an image's magic bytes), and a deleted message's go with it.
struct FileAttachments: Sendable {
    let store: any Store
    let blobs: any BlobStore

    /// Sends a message, with its files once they are ready; one without files or a reply takes the store's batched send.
    func send(room: String, sender: String, clientId: String, text: String, files: [String], replyTo: Int64? = nil) async throws -> Sent {
        for id in files { try await checkUpload(id, room: room, sender: sender) }
        return try await store.send(room: room, sender: sender, clientId: clientId, text: text, files: files, replyTo: replyTo)
    }

    /// Marks as stored a file the sender uploaded to the bucket, once its bytes are there and agree with what was
    /// announced; bytes that do not are removed. A file uploaded through Parley was checked as it came.
    private func checkUpload(_ id: String, room: String, sender: String) async throws {
        guard let file = try await store.file(id, viewer: nil), file.room == room, file.uploader == sender, file.storedAt == nil,
            let info = try await blobs.info(key: file.uploadKey)
        else { return }
        var head: [UInt8] = []
        if info.size == file.ref.size, let body = try await blobs.read(key: file.uploadKey, offset: 0, length: Int64(FileRules.sniffLength)) {
            for try await chunk in body.chunks { head += chunk.readableBytesView }
        }
        // A bucket keeps the Content-Type the upload came with; a folder keeps none, its upload route checked it.
        let typed = info.contentType.map { (try? FileRules.contentType($0)) == file.ref.contentType } ?? true
        guard info.size == file.ref.size, typed, FileRules.bytes(head, match: file.ref.contentType) else {
            try await blobs.delete(key: file.uploadKey)
            throw ParleyError.invalid("files", "\(file.ref.name) is not the \(file.ref.size) bytes of \(file.ref.contentType) announced")
        }
        // The checked bytes move to where members fetch them; what the upload link sends from now on goes nowhere.
        try await blobs.copy(from: file.uploadKey, to: file.key)
        try await blobs.delete(key: file.uploadKey)
        _ = try await store.markFileStored(id, at: .now)
    }

    /// Removes the bytes of the files a deleted message took with it.
    func removeBytes(of sent: Sent) async {
        for file in sent.removedFiles { try? await blobs.delete(key: file.key) }
    }
}
