import Crypto
import Foundation
import ParleyCore

/// The ICE servers a caller gets from `GET /api/turn`: the STUN URIs as they are, and the TURN URIs with
/// time-limited credentials in coturn's REST scheme (`use-auth-secret`): the username is `{expiry}:{userId}`
/// and the password is `base64(HMAC-SHA1(secret, username))`, so that coturn checks them with the shared
/// secret alone.
struct ICEServers: Sendable {
    struct Server: Codable, Sendable, Hashable {
        var urls: [String]
        var username: String?
        var credential: String?
    }

    struct Answer: Codable, Sendable, Hashable {
        var iceServers: [Server]
        /// How long the credentials last, in seconds.
        var ttl: Int
    }

    let stunURIs: [String]
    let turnURIs: [String]
    let secret: String?
    let ttl: Int

    init(_ configuration: Configuration) {
        stunURIs = configuration.stunURIs
        turnURIs = configuration.turnURIs
        secret = configuration.turnSecret
        ttl = configuration.turnTTL
    }

    func answer(for user: String, now: Date = Date()) -> Answer {
        var servers: [Server] = []
        if !stunURIs.isEmpty { servers.append(Server(urls: stunURIs)) }
        // TURN without a secret would hand out servers nobody can use.
        if !turnURIs.isEmpty, let secret {
            let username = "\(Int(now.timeIntervalSince1970) + ttl):\(user)"
            servers.append(Server(urls: turnURIs, username: username, credential: Self.password(username: username, secret: secret)))
        }
        return Answer(iceServers: servers, ttl: ttl)
    }

    static func password(username: String, secret: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(username.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }
}
