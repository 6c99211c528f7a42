import Foundation
import ParleyCore

/// One profile's sign-in as kept on disk: the server, the session and when its access token expires.
public struct StoredCredentials: Codable {
    public var server: String
    public var session: Session
    public var expiresAt: Date

    public init(server: String, session: Session, now: Date = Date()) {
        self.server = server
        self.session = session
        self.expiresAt = now.addingTimeInterval(TimeInterval(session.expiresIn))
    }
}

/// The credentials of one profile, in `DIRECTORY/PROFILE.json`, readable by its owner only (0600, in a 0700 folder),
/// since the refresh token in it signs in as the user.
public struct CredentialStore {
    public let directory: URL
    public let profile: String

    public init(directory: URL, profile: String) {
        self.directory = directory
        self.profile = profile
    }

    public var file: URL { directory.appendingPathComponent("\(profile).json") }

    public func load() throws -> StoredCredentials? {
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        return try JSONDecoder.credentials.decode(StoredCredentials.self, from: data)
    }

    public func save(_ credentials: StoredCredentials) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder.credentials.encode(credentials)
        // Written to a file created 0600 and renamed over the old one: the token is never readable by others, not
        // even for a moment, and a crash mid-write leaves the old credentials whole.
        let temporary = directory.appendingPathComponent(".\(profile).json.\(getpid())")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot write \(temporary.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else { throw CLIError("cannot write \(temporary.path)") }
        guard rename(temporary.path, file.path) == 0 else {
            throw CLIError("cannot write \(file.path): \(String(cString: strerror(errno)))")
        }
    }

    public func delete() throws {
        if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
    }
}

extension JSONEncoder {
    public static var credentials: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    public static var credentials: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
