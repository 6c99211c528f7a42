import AsyncHTTPClient
import ArgumentParser
import Foundation
import ParleyClient
import ParleyCommandLine
import ParleyCore

/// `parley register USERNAME --name NAME`: creates the account and signs this profile in.
struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an account and sign in with it.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The username: lowercase, unique.") var username: String
    @Option(help: "Your display name.") var name: String
    @Flag(help: "Read the password from standard input rather than a terminal.") var passwordStdin = false

    func run() async throws {
        let password = try Password.read(fromStandardInput: passwordStdin, confirm: true)
        let server = options.chosenServer ?? ClientOptions.defaultServer
        let client = ParleyClient(baseURL: server, http: .failingFast)
        let session = try await client.register(username: username, password: password, name: name)
        try options.credentials.save(StoredCredentials(server: client.baseURL, session: session))
        options.output.emit(session.user, "Registered and signed in as \(session.user.username) on \(client.baseURL).")
    }
}

/// `parley login USERNAME`: signs this profile in.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign in.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Your username.") var username: String
    @Flag(help: "Read the password from standard input rather than a terminal.") var passwordStdin = false

    func run() async throws {
        let password = try Password.read(fromStandardInput: passwordStdin, confirm: false)
        let server = options.chosenServer ?? (try? options.credentials.load())?.server ?? ClientOptions.defaultServer
        let client = ParleyClient(baseURL: server, http: .failingFast)
        let session = try await client.login(username: username, password: password)
        try options.credentials.save(StoredCredentials(server: client.baseURL, session: session))
        options.output.emit(session.user, "Signed in as \(session.user.username) on \(client.baseURL).")
    }
}

/// `parley logout [--everywhere]`: ends the session on the server and forgets it here.
struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign out, here or on every device.")

    @OptionGroup var options: ClientOptions
    @Flag(help: "End every session of yours, on every device.") var everywhere = false

    func run() async throws {
        let signedIn = try SignedIn(options)
        do {
            try await signedIn.call { try await $0.logout(everywhere: everywhere) }
        } catch let error as CLIError where error.code == "unauthorized" {
            // The session was over already; forgetting it is all that is left to do.
        }
        try options.credentials.delete()
        options.output.emit(["signedOut": true], everywhere ? "Signed out everywhere." : "Signed out.")
    }
}

/// `parley whoami`: the signed-in user, as the server knows them.
struct Whoami: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show who this profile is signed in as.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let signedIn = try SignedIn(options)
        let me = try await signedIn.call { try await $0.me() }
        options.output.emit(me, "\(me.username) (\(me.name)) on \(signedIn.server), profile \(options.profileName)")
    }
}

/// Reading a password: without echo from the terminal, or a line of standard input.
enum Password {
    static func read(fromStandardInput: Bool, confirm: Bool) throws -> String {
        if fromStandardInput {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("--password-stdin: standard input holds no password")
            }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw ValidationError("no terminal to read the password from: pipe it in with --password-stdin")
        }
        let password = try prompt("Password: ")
        if confirm, try prompt("Again: ") != password { throw CLIError("the passwords differ") }
        return password
    }

    /// Asks once echo is off, so that nothing typed after the prompt shows.
    private static func prompt(_ text: String) throws -> String {
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        FileHandle.standardError.write(Data(text.utf8))
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("no password given") }
        return line
    }
}
