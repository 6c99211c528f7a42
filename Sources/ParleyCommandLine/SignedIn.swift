import AsyncHTTPClient
import Foundation
import ParleyClient
import ParleyCore

/// A profile's stored sign-in, in use: the REST client with its session, whose access token is renewed from the
/// refresh token when it expires or when the server answers 401, and written back to the profile's file.
///
/// An actor, because a renewal must not run twice at once: refresh tokens rotate, and the server takes a spent one
/// presented again for a theft and ends the session.
public actor SignedIn {
    public nonisolated let client: ParleyClient
    public nonisolated let server: String
    private let store: CredentialStore
    private var stored: StoredCredentials

    /// The profile's sign-in, or an error telling the user to log in.
    public init(_ options: ClientOptions) throws {
        let store = options.credentials
        guard let stored = try store.load() else { throw CLIError.notLoggedIn(profile: options.profileName) }
        let server = options.chosenServer ?? stored.server
        guard Self.sameServer(server, stored.server) else {
            throw CLIError("profile \(options.profileName) is signed in to \(stored.server), not \(server): run `parley login` for it")
        }
        self.store = store
        self.stored = stored
        self.server = stored.server
        self.client = ParleyClient(baseURL: stored.server, http: .failingFast)
        client.restore(stored.session)
    }

    public var user: User { stored.session.user }

    /// When the access token expires.
    public var expiresAt: Date { stored.expiresAt }

    /// Runs a call with a fresh access token: renewed first if it is about to expire, and once more on a 401.
    public func call<T: Sendable>(_ body: @Sendable (ParleyClient) async throws -> T) async throws -> T {
        if stored.expiresAt.timeIntervalSinceNow < 30 { try await refresh() }
        do {
            return try await body(client)
        } catch let error as ParleyClientError where error.status == 401 {
            try await refresh()
            return try await body(client)
        }
    }

    /// Trades the refresh token for a new pair and stores it. Another process of the same profile may have done so
    /// already (a `tail` beside a `send`): under the profile's lock, a newer session on disk is taken instead.
    public func refresh() async throws {
        let lock = try ProfileLock(store)
        defer { lock.release() }
        if let onDisk = try store.load(), onDisk.session.refreshToken != stored.session.refreshToken,
            onDisk.expiresAt.timeIntervalSinceNow > 30
        {
            adopt(onDisk)
            return
        }
        do {
            let session = try await client.refresh()
            let renewed = StoredCredentials(server: stored.server, session: session)
            try store.save(renewed)
            adopt(renewed)
        } catch let error as ParleyClientError where error.status == 401 {
            throw CLIError.sessionExpired
        }
    }

    private func adopt(_ credentials: StoredCredentials) {
        stored = credentials
        client.restore(credentials.session)
    }

    public static func sameServer(_ a: String, _ b: String) -> Bool {
        func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
        return trimmed(a) == trimmed(b)
    }
}

/// An exclusive `flock` on the profile's lock file, held while its tokens are renewed.
public struct ProfileLock {
    private let fd: Int32

    public init(_ store: CredentialStore) throws {
        try FileManager.default.createDirectory(at: store.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        fd = open(store.directory.appendingPathComponent(".\(store.profile).lock").path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw CLIError("cannot lock the profile \(store.profile): \(String(cString: strerror(errno)))") }
        flock(fd, LOCK_EX)
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension SignedIn {
    /// The server's WebSocket endpoint: `ws://host/ws`, or `wss://` for an https server.
    public nonisolated var webSocketURL: String {
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        if base.hasPrefix("https://") { return "wss://" + base.dropFirst("https://".count) + "/ws" }
        return "ws://" + base.dropFirst("http://".count) + "/ws"
    }

    /// Renews the access token before it expires, so that reconnects keep working, and hands it to the socket.
    /// A renewal that fails stops the socket and throws.
    public func keepRenewed(_ live: LiveClient) async throws {
        do {
            while true {
                let wait = max(5, expiresAt.timeIntervalSinceNow - 60)
                try await Task.sleep(for: .seconds(wait))
                try await refresh()
                if let token = client.currentSession?.accessToken { _ = try? await live.request(.auth(token: token)) }
            }
        } catch is CancellationError {
            return
        } catch {
            await live.stop()
            throw error
        }
    }
}
