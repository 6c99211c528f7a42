import ArgumentParser
import Foundation

/// What every client command shares: which server, which identity, which output. Flags win over the environment
/// (`PARLEY_SERVER`, `PARLEY_PROFILE`), and the environment over the server the profile signed in to.
public struct ClientOptions: ParsableArguments, Sendable {
    @Option(help: "The server's URL (PARLEY_SERVER; then the profile's server; then http://localhost:8080).")
    public var server: String?
    @Option(help: "The identity to use, so that several users can run on one machine (PARLEY_PROFILE; default: default).")
    public var profile: String?
    @Flag(help: "Print one JSON object per line.") public var json = false

    public init() {}

    public static let defaultServer = "http://localhost:8080"

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    public var profileName: String { profile ?? environment["PARLEY_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default" }

    /// The server named on the command line or in the environment, if any.
    public var chosenServer: String? { server ?? environment["PARLEY_SERVER"].flatMap { $0.isEmpty ? nil : $0 } }

    /// `$XDG_CONFIG_HOME/parley`, or `~/.config/parley`.
    public var configDirectory: URL {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("parley")
        }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return URL(fileURLWithPath: home).appendingPathComponent(".config/parley")
    }

    public var credentials: CredentialStore { CredentialStore(directory: configDirectory, profile: profileName) }

    public var output: Output { Output(json: json) }

    public func validate() throws {
        guard profileName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }),
            !profileName.hasPrefix(".")
        else { throw ValidationError("--profile may hold letters, digits, '-', '_' and '.', and must not start with '.'") }
        if let chosenServer, !(chosenServer.hasPrefix("http://") || chosenServer.hasPrefix("https://")) {
            throw ValidationError("--server must be an http:// or https:// URL")
        }
    }
}
