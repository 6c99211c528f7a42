import CHiredis
import NIOCore

/// A reply from Redis, as hiredis's reader parsed it (RESP2).
public enum RESPValue: Sendable, Hashable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk(ByteBuffer)
    case array([RESPValue])
    case null

    /// Copies a hiredis reply into Swift values; the caller frees the reply.
    init(_ reply: UnsafePointer<redisReply>) {
        let reply = reply.pointee
        switch reply.type {
        case REDIS_REPLY_STATUS: self = .simple(Self.string(reply))
        case REDIS_REPLY_ERROR: self = .error(Self.string(reply))
        case REDIS_REPLY_INTEGER: self = .integer(Int64(reply.integer))
        case REDIS_REPLY_STRING:
            self = .bulk(ByteBuffer(bytes: UnsafeRawBufferPointer(start: reply.str, count: reply.len)))
        case REDIS_REPLY_ARRAY:
            self = .array((0..<reply.elements).map { RESPValue(UnsafePointer(reply.element[$0]!)) })
        default: self = .null
        }
    }

    private static func string(_ reply: redisReply) -> String {
        String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self)
    }

    var string: String? {
        switch self {
        case .simple(let text): text
        case .bulk(let buffer): String(buffer: buffer)
        default: nil
        }
    }

    var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    var array: [RESPValue]? { if case .array(let values) = self { values } else { nil } }
}

/// An error reply, or a connection that is not there.
public struct RedisError: Error, CustomStringConvertible {
    public var description: String
    /// Redis, or its TLS, refused this node: a wrong password, a permission missing, a certificate not trusted.
    /// Trying again changes nothing, so a node stops at start with it.
    public var isRefusal = false
    public init(description: String) { self.description = description }

    static func refused(_ description: String) -> RedisError {
        var error = RedisError(description: description)
        error.isRefusal = true
        return error
    }
}
