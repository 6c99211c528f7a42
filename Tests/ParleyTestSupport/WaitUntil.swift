import Testing

/// Waits until `condition` holds, and fails the test when it does not within `timeout`, naming `what` it waited for
/// ("timed out after 10.0 seconds waiting until the node listens").
///
/// The condition is checked at once, then again after each short pause: for state the code under test changes
/// without telling anyone. Where it tells, through a stream (`Deliveries`, `LiveClient.events`), wait on that instead.
///
/// - Parameters:
///   - what: what is awaited, as the failure names it: "the writer is held at the gate".
///   - timeout: how long it may take; only a failing test waits that long.
///   - condition: whether it has happened. It may be async, and may throw to end the wait and the test.
public func waitUntil(
    _ what: @autoclosure () -> String,
    within timeout: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let conditionHeldInTime = try await holds(within: timeout, condition)
    try #require(conditionHeldInTime, "timed out after \(timeout) waiting until \(what())", sourceLocation: sourceLocation)
}

/// Whether `condition` holds within `timeout`, checked at once and then every 10 ms: the one place where the tests
/// pause between checks. For the test support's own waits that do not fail the test themselves.
func holds(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        // A cancelled test stops waiting at once, as the condition's checks would not end it.
        guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}
