import Foundation

/// A file on this machine to send: where it is, the name it goes by, its size, and its type.
public struct LocalFile: Sendable {
    public let path: String
    public let name: String
    public let size: Int64
    public let contentType: String

    /// A regular, readable, non-empty file; its type from its first bytes for the images a browser shows (whose
    /// bytes Parley checks), else from its extension.
    public init(path: String) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw CLIError("\(path): no such file", code: "not_found")
        }
        guard (attributes[.type] as? FileAttributeType) == .typeRegular, let size = (attributes[.size] as? NSNumber)?.int64Value else {
            throw CLIError("\(path): not a regular file", code: "bad_request")
        }
        guard size > 0 else { throw CLIError("\(path): the file is empty", code: "bad_request") }
        guard let file = FileHandle(forReadingAtPath: path) else { throw CLIError("\(path): cannot be read", code: "forbidden") }
        defer { try? file.close() }
        let head = [UInt8]((try? file.read(upToCount: 12)) ?? Data())
        self.path = path
        name = URL(fileURLWithPath: path).lastPathComponent
        self.size = size
        contentType = MediaType.guess(name: name, head: head)
    }
}

/// The MIME type a file is sent as.
public enum MediaType {
    static let images: [(type: String, magic: [UInt8?])] = [
        ("image/png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
        ("image/jpeg", [0xFF, 0xD8, 0xFF]),
        ("image/gif", Array("GIF87a".utf8)),
        ("image/gif", Array("GIF89a".utf8)),
        // RIFF, four bytes of size, WEBP.
        ("image/webp", Array("RIFF".utf8) + [nil, nil, nil, nil] + Array("WEBP".utf8)),
    ]

    static let byExtension: [String: String] = [
        "txt": "text/plain", "md": "text/markdown", "csv": "text/csv", "json": "application/json", "xml": "application/xml",
        "html": "text/html", "htm": "text/html", "css": "text/css", "js": "text/javascript",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
        "doc": "application/msword", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls": "application/vnd.ms-excel", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt": "application/vnd.ms-powerpoint", "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt": "application/vnd.oasis.opendocument.text", "svg": "image/svg+xml", "heic": "image/heic", "bmp": "image/bmp",
        "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav",
        "flac": "audio/flac", "mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm", "mov": "video/quicktime",
        "mkv": "video/x-matroska",
    ]

    /// An image type when the bytes begin as one (a `.png` whose bytes are no PNG is not sent as one: Parley would
    /// refuse it); otherwise the extension's type; otherwise `application/octet-stream`.
    public static func guess(name: String, head: [UInt8]) -> String {
        if let image = images.first(where: { head.count >= $0.magic.count && zip(head, $0.magic).allSatisfy { $1 == nil || $0 == $1 } }) {
            return image.type
        }
        return byExtension[URL(fileURLWithPath: name).pathExtension.lowercased()] ?? "application/octet-stream"
    }
}
