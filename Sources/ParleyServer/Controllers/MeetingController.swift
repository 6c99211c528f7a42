import Hummingbird
import ParleyCore

/// Meetings over REST: start one in a room, list mine, answer, decline, end; and the ICE servers to call with.
/// Joining, leaving and signaling need a connection, so they are WebSocket frames.
struct MeetingController {
    let meetings: Meetings
    let ice: ICEServers

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("rooms/:room/meetings", use: start)
        group.get("meetings", use: list)
        group.get("meetings/:meeting", use: show)
        group.post("meetings/:meeting/accept", use: accept)
        group.post("meetings/:meeting/decline", use: decline)
        group.post("meetings/:meeting/end", use: end)
        group.get("turn", use: turn)
    }

    /// 201 with a new ringing meeting; 200 with the room's meeting when one is already ringing or active.
    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        let (meeting, created) = try await meetings.start(room: try context.parameters.require("room"), host: try context.caller())
        return JSONBody(meeting, status: created ? .created : .ok)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONBody<[Meeting]> {
        JSONBody(try await meetings.store.openMeetings(of: try context.caller()))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        JSONBody(try await meetings.store.meeting(try context.parameters.require("meeting"), viewer: try context.caller()))
    }

    @Sendable func accept(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        JSONBody(try await meetings.accept(try context.parameters.require("meeting"), user: try context.caller()))
    }

    @Sendable func decline(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        JSONBody(try await meetings.decline(try context.parameters.require("meeting"), user: try context.caller()))
    }

    @Sendable func end(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Meeting> {
        JSONBody(try await meetings.end(try context.parameters.require("meeting"), actor: try context.caller()))
    }

    @Sendable func turn(_ request: Request, context: AppRequestContext) async throws -> JSONBody<ICEServers.Answer> {
        JSONBody(ice.answer(for: try context.caller()))
    }
}
