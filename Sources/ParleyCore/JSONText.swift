/// JSON text written by hand, for the few shapes on the send path where Foundation's encoder costs more than the
/// rest of the work (a send's acknowledgement, and its request to the store). Strings are escaped as RFC 8259
/// requires: quotation mark, reverse solidus and control characters; everything else is written as UTF-8.
public struct JSONText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes text as it is: punctuation and keys known to need no escaping.
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(contentsOf: [hex[Int(byte >> 4)], hex[Int(byte & 0xf)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func string(_ value: String?) {
        guard let value else { return raw("null") }
        string(value)
    }

    public mutating func integer(_ value: Int64) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Any JSON value; an object's members in no set order. A double is finite (`JSONReader` reads no other), and
    /// Swift writes it in a form JSON reads back as the same number.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let value): value ? raw("true") : raw("false")
        case .int(let value): integer(value)
        case .double(let value): bytes.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        case .string(let value): string(value)
        case .array(let values):
            raw("[")
            for (index, value) in values.enumerated() {
                if index > 0 { raw(",") }
                self.value(value)
            }
            raw("]")
        case .object(let members):
            raw("{")
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { raw(",") }
                string(key)
                raw(":")
                self.value(value)
            }
            raw("}")
        }
    }

    /// A message as `Message.encode(to:)` writes it.
    public mutating func message(_ message: Message) {
        raw("{\"room\":")
        string(message.room)
        raw(",\"seq\":")
        integer(message.seq)
        raw(",\"clientId\":")
        string(message.clientId)
        raw(",\"sender\":")
        string(message.sender)
        raw(",\"text\":")
        string(message.text)
        raw(",\"sentAt\":")
        string(message.sentAt.iso8601)
        if let deletedAt = message.deletedAt {
            raw(",\"deletedAt\":")
            string(deletedAt.iso8601)
        }
        if let files = message.files {
            raw(",\"files\":[")
            for (index, file) in files.enumerated() {
                raw(index == 0 ? "{\"id\":" : ",{\"id\":")
                string(file.id)
                raw(",\"name\":")
                string(file.name)
                raw(",\"size\":")
                integer(file.size)
                raw(",\"contentType\":")
                string(file.contentType)
                raw("}")
            }
            raw("]")
        }
        details(of: message)
        raw("}")
    }

    /// The fields of replies, edits, reactions and calls, which few messages have.
    private mutating func details(of message: Message) {
        if let replyTo = message.replyTo {
            raw(",\"replyTo\":")
            integer(replyTo)
        }
        if let quoted = message.quoted {
            raw(",\"quoted\":{\"sender\":")
            string(quoted.sender)
            if let snippet = quoted.snippet {
                raw(",\"snippet\":")
                string(snippet)
            }
            if quoted.deleted == true { raw(",\"deleted\":true") }
            raw("}")
        }
        if let editedAt = message.editedAt {
            raw(",\"editedAt\":")
            string(editedAt.iso8601)
        }
        if let reactions = message.reactions {
            raw(",\"reactions\":[")
            for (index, reaction) in reactions.enumerated() {
                raw(index == 0 ? "{\"emoji\":" : ",{\"emoji\":")
                string(reaction.emoji)
                raw(",\"count\":")
                integer(Int64(reaction.count))
                raw(",\"users\":")
                value(.array(reaction.users.map(JSONValue.string)))
                raw("}")
            }
            raw("]")
        }
        if let call = message.call {
            raw(",\"call\":{\"meeting\":")
            string(call.meeting)
            raw(",\"outcome\":")
            string(call.outcome.rawValue)
            if let duration = call.durationMs {
                raw(",\"durationMs\":")
                integer(duration)
            }
            raw("}")
        }
    }
}
