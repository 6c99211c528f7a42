import Foundation
import ParleyClient
import ParleyCore

/// Calls to a server that may be down: retried, with a growing pause, for as long as it cannot be reached, saying so
/// on standard error. A server that answers, even with an error, ends the retries. Each try gets a few seconds, for a
/// server that takes the connection and does not answer; the calls are reads, safe to repeat.
public enum Reachable {
    public static let attempt: Duration = .seconds(4)

    public static func retrying<T: Sendable>(
        _ signedIn: SignedIn, _ output: Output, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        var pause = 1
        while true {
            do {
                return try await withThrowingTaskGroup(of: T?.self) { group in
                    group.addTask { try await body() }
                    group.addTask {
                        try await Task.sleep(for: attempt)
                        return nil
                    }
                    defer { group.cancelAll() }
                    guard let value = try await group.next()! else { throw CLIError("no answer within \(attempt.components.seconds) s") }
                    return value
                }
            } catch let error where !(error is ParleyClientError || error is CancellationError) && !Self.isAnswer(error) {
                output.unreachable(signedIn.server, error: (error as? ParleyClientUnreachable)?.reason ?? error, retryIn: pause)
                try await Task.sleep(for: .seconds(pause))
                pause = min(pause * 2, 16)
            }
        }
    }

    /// A failure the server or the user's own state gave, which trying again does not change.
    private static func isAnswer(_ error: any Error) -> Bool {
        guard let error = error as? CLIError else { return false }
        return error.code != nil
    }
}

extension Output {
    /// The server cannot be reached: said on standard error, and with `--json` as a `server` line too.
    public func unreachable(_ server: String, error: (any Error)? = nil, retryIn seconds: Int? = nil) {
        Output.error("cannot reach \(server)\(error.map { " (\($0))" } ?? ""); retrying\(seconds.map { " in \($0) s" } ?? "")")
        guard json else { return }
        var fields: [String: JSONValue] = ["event": .string("server"), "state": .string("unreachable"), "server": .string(server)]
        if let seconds { fields["retryIn"] = .int(Int64(seconds)) }
        line(Output.encode(JSONValue.object(fields)))
    }
}
