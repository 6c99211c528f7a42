import Hummingbird
import ParleyCore

/// Recording a meeting, as its attendees ask: `POST` starts it (201, or 200 when it runs already), `DELETE` stops it
/// (200). Any attendee may do either; a group's owner and admins may forbid recording its meetings. Both answer
/// with the meeting object, whose `recording` says whether one runs.
struct RecordingController {
    let recordings: Recordings

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("meetings/:meeting/recording", use: start)
        group.delete("meetings/:meeting/recording", use: stop)
    }

    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        let change = try await recordings.start(try context.parameters.require("meeting"), by: try context.caller())
        return JSONBody(change.meeting.meeting, status: change.created ? .created : .ok)
    }

    @Sendable func stop(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        JSONBody(try await recordings.stop(try context.parameters.require("meeting"), by: try context.caller()).meeting.meeting)
    }
}
