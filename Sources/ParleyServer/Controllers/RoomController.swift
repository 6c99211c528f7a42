import Hummingbird
import ParleyCore
import ParleyStore

/// Rooms and their members.
struct RoomController {
    let store: any Store
    let events: RoomEvents
    let meetings: Meetings
    let throttles: Throttles

    struct Create: Decodable {
        let name: String
        let members: [String]?
    }

    /// A group's name, whether its meetings may be recorded, or both.
    struct Change: Decodable {
        let name: String?
        let recordingAllowed: Bool?
    }

    struct AddMember: Decodable {
        let userId: String
        let role: Role?
    }

    struct ChangeRole: Decodable {
        let role: Role
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("rooms", use: list)
        group.post("rooms", use: create)
        group.get("rooms/:room", use: show)
        group.patch("rooms/:room", use: rename)
        group.delete("rooms/:room", use: delete)
        group.post("rooms/:room/members", use: addMember)
        group.patch("rooms/:room/members/:user", use: changeRole)
        group.delete("rooms/:room/members/:user", use: removeMember)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONBody<[RoomSummary]> {
        JSONBody(try await store.rooms(of: try context.caller()))
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> JSONBody<RoomDetail> {
        let body = try await request.json(Create.self, context: context)
        let name = try Validate.name(body.name)
        try await throttles.spend(.creation, by: try context.caller())
        let room = try await store.createGroup(owner: try context.caller(), name: name, members: body.members ?? [])
        await events.roomAdded(room.room.id, for: room.members.map(\.user.id), by: try context.caller())
        return JSONBody(room, status: .created)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> JSONBody<RoomDetail> {
        JSONBody(try await store.room(try context.parameters.require("room"), viewer: try context.caller()))
    }

    @Sendable func rename(_ request: Request, context: AppRequestContext) async throws -> JSONBody<RoomDetail> {
        let body = try await request.json(Change.self, context: context)
        let (room, caller) = (try context.parameters.require("room"), try context.caller())
        guard body.name != nil || body.recordingAllowed != nil else { throw ParleyError(.badRequest, "give name, recordingAllowed, or both") }
        let name = try body.name.map { try Validate.name($0) }
        if let allowed = body.recordingAllowed { try await store.setRecordingAllowed(room: room, allowed: allowed, actor: caller) }
        let detail =
            if let name { try await store.renameRoom(room, name: name, actor: caller) } else { try await store.room(room, viewer: caller) }
        await events.roomUpdated(room, for: detail.members.map(\.user.id))
        return JSONBody(detail)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let room = try context.parameters.require("room")
        let members = try await store.deleteRoom(room, actor: try context.caller())
        await events.roomRemoved(room, for: members)
        return Response(status: .noContent)
    }

    @Sendable func addMember(_ request: Request, context: AppRequestContext) async throws -> JSONBody<Member> {
        let body = try await request.json(AddMember.self, context: context)
        let room = try context.parameters.require("room")
        let member = try await store.addMember(room: room, user: body.userId, role: body.role ?? .member, actor: try context.caller())
        await events.memberAdded(member, to: room, by: try context.caller())
        return JSONBody(member, status: .created)
    }

    @Sendable func changeRole(_ request: Request, context: AppRequestContext) async throws -> JSONBody<RoomDetail> {
        let body = try await request.json(ChangeRole.self, context: context)
        return JSONBody(
            try await store.changeRole(
                room: try context.parameters.require("room"), user: try context.parameters.require("user"), role: body.role,
                actor: try context.caller()))
    }

    /// Removing yourself is leaving. A member who goes leaves the room's meetings too: the hubs hear
    /// `member.removed` first and stop the member's signals, then the others hear `attendee.left`.
    @Sendable func removeMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let room = try context.parameters.require("room")
        let user = try context.parameters.require("user")
        let attended = await meetings.attendance(of: user, in: room)
        _ = try await store.removeMember(room: room, user: user, actor: try context.caller())
        await events.memberRemoved(user, from: room)
        for (meeting, conn) in attended { await meetings.leave(meeting, conn: conn) }
        return Response(status: .noContent)
    }
}
