extension ClientFrame {
    /// Text that is no frame: no JSON object, no string `type`, or a field of another type than the frame's shape
    /// gives it.
    public struct WrongType: Error {
        public let field: String
    }

    /// A frame refused as it is: `error` says why (a missing field, a control character, an unknown type), and `id`
    /// is the frame's, for the reply.
    public struct Refused: Error {
        public let id: String?
        public let error: ParleyError
    }

    /// A frame from its JSON text, read by `JSONReader`, at a fraction of Foundation's decoder's cost. A field that
    /// is null is missing.
    public init(json text: UnsafeRawBufferPointer) throws {
        try self.init(json: try JSONReader.parse(text))
    }

    /// A frame from its JSON. A string field that holds a control character (but a tab or newline in `text`)
    /// throws `invalid_field`; `payload` passes as it is, since SDP lines end in CRLF.
    public init(json value: JSONValue) throws {
        guard let object = value.object else { throw WrongType(field: "") }
        func field<T>(_ key: String, _ read: (JSONValue) -> T?) throws(WrongType) -> T? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let read = read(value) else { throw WrongType(field: key) }
            return read
        }
        // The id first, so that a refusal of any other field can name the frame it answers.
        let id = try field("id", \.string)
        func refuse(_ error: ParleyError) -> Refused { Refused(id: id, error: error) }
        func clean(_ value: String, _ key: String) throws(Refused) {
            guard Validate.holdsControls(value, newlines: key == "text") else { return }
            throw refuse(ParleyError.invalid(key, "may not hold control characters"))
        }
        func string(_ key: String) throws -> String? {
            guard let value = try field(key, \.string) else { return nil }
            try clean(value, key)
            return value
        }
        guard let type = try string("type") else { throw WrongType(field: "type") }
        try id.map { try clean($0, "id") }
        // Every field is read and checked, whatever the type needs, so that a frame's shape is one for all types.
        let rooms = try field("rooms") { rooms in
            rooms.array.flatMap { cursors in
                let read = cursors.compactMap(RoomCursor.init(json:))
                return read.count == cursors.count ? read : nil
            }
        }
        for cursor in rooms ?? [] { try clean(cursor.room, "rooms") }
        let room = try string("room")
        let clientId = try string("clientId")
        let text = try string("text")
        let files = try field("files") { value in
            value.array.flatMap { items in
                let ids = items.compactMap(\.string)
                return ids.count == items.count ? ids : nil
            }
        }
        for file in files ?? [] { try clean(file, "files") }
        let seq = try field("seq", \.integer)
        let replyTo = try field("replyTo", \.integer)
        let emoji = try string("emoji")
        let remove = try field("remove", \.bool)
        let token = try string("token")
        let meeting = try string("meeting")
        let to = try string("to")
        let kind = try field("kind") { $0.string.flatMap(SignalKind.init(rawValue:)) }
        let payload = try field("payload") { $0 }
        let media = MediaChange(audio: try field("audio", \.bool), video: try field("video", \.bool), screen: try field("screen", \.bool))

        guard let frameKind = Kind(rawValue: type) else { throw refuse(ParleyError(.badRequest, "unknown frame type '\(type)'")) }
        func require<T>(_ value: T?, _ name: String) throws(Refused) -> T {
            guard let value else { throw refuse(ParleyError(.badRequest, "\(type) needs '\(name)'")) }
            return value
        }
        self.id = id
        switch frameKind {
        case .subscribe: body = .subscribe(try require(rooms, "rooms"))
        case .unsubscribe: body = .unsubscribe(try require(rooms, "rooms").map(\.room))
        case .send:
            let files = files ?? []
            body = .send(
                room: try require(room, "room"), clientId: try require(clientId, "clientId"),
                text: files.isEmpty ? try require(text, "text") : text ?? "", files: files, replyTo: replyTo)
        case .edit: body = .edit(room: try require(room, "room"), seq: try require(seq, "seq"), text: try require(text, "text"))
        case .react:
            body = .react(room: try require(room, "room"), seq: try require(seq, "seq"), emoji: try require(emoji, "emoji"), remove: remove ?? false)
        case .typing: body = .typing(room: try require(room, "room"))
        case .read: body = .read(room: try require(room, "room"), seq: try require(seq, "seq"))
        case .auth: body = .auth(token: try require(token, "token"))
        case .ping: body = .ping
        case .meetingStart: body = .meetingStart(room: try require(room, "room"))
        case .meetingAccept: body = .meetingAccept(meeting: try require(meeting, "meeting"))
        case .meetingDecline: body = .meetingDecline(meeting: try require(meeting, "meeting"))
        case .meetingEnd: body = .meetingEnd(meeting: try require(meeting, "meeting"))
        case .meetingJoin: body = .meetingJoin(meeting: try require(meeting, "meeting"), media: media)
        case .meetingLeave: body = .meetingLeave(meeting: try require(meeting, "meeting"))
        case .media: body = .media(meeting: try require(meeting, "meeting"), media)
        case .signal:
            body = .signal(meeting: try require(meeting, "meeting"), to: try require(to, "to"), kind: try require(kind, "kind"), payload: payload)
        }
    }
}

extension ClientFrame.RoomCursor {
    /// `{room, since?}`; nil for any other shape.
    init?(json: JSONValue) {
        let since = json["since"]
        guard let room = json["room"].string, since.isNull || since.integer != nil else { return nil }
        self.init(room: room, since: since.integer)
    }
}

extension ClientFrame: Encodable {
    private enum CodingKeys: String, CodingKey {
        case id, type, rooms, room, clientId, text, files, replyTo, seq, emoji, remove, token, meeting, to, kind, payload
    }

    /// The frame as a client sends it, fields flat beside `type`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(id, forKey: .id)
        try container.encode(kind.rawValue, forKey: .type)
        switch body {
        case .subscribe(let rooms):
            try container.encode(rooms, forKey: .rooms)
        case .unsubscribe(let rooms):
            try container.encode(rooms.map { RoomCursor(room: $0) }, forKey: .rooms)
        case .send(let room, let clientId, let text, let files, let replyTo):
            try container.encode(room, forKey: .room)
            try container.encode(clientId, forKey: .clientId)
            if !text.isEmpty || files.isEmpty { try container.encode(text, forKey: .text) }
            if !files.isEmpty { try container.encode(files, forKey: .files) }
            try container.encodeIfPresent(replyTo, forKey: .replyTo)
        case .edit(let room, let seq, let text):
            try container.encode(room, forKey: .room)
            try container.encode(seq, forKey: .seq)
            try container.encode(text, forKey: .text)
        case .react(let room, let seq, let emoji, let remove):
            try container.encode(room, forKey: .room)
            try container.encode(seq, forKey: .seq)
            try container.encode(emoji, forKey: .emoji)
            if remove { try container.encode(true, forKey: .remove) }
        case .typing(let room), .meetingStart(let room):
            try container.encode(room, forKey: .room)
        case .read(let room, let seq):
            try container.encode(room, forKey: .room)
            try container.encode(seq, forKey: .seq)
        case .auth(let token):
            try container.encode(token, forKey: .token)
        case .ping:
            break
        case .meetingAccept(let meeting), .meetingDecline(let meeting), .meetingEnd(let meeting), .meetingLeave(let meeting):
            try container.encode(meeting, forKey: .meeting)
        case .meetingJoin(let meeting, let media), .media(let meeting, let media):
            try container.encode(meeting, forKey: .meeting)
            try media.encode(to: encoder)
        case .signal(let meeting, let to, let kind, let payload):
            try container.encode(meeting, forKey: .meeting)
            try container.encode(to, forKey: .to)
            try container.encode(kind, forKey: .kind)
            try container.encodeIfPresent(payload, forKey: .payload)
        }
    }
}
