import NIOCore
import ParleyCore

/// What a socket's client sent, for the gateway to run in order (`Gateway.receive`).
enum Inbound: Sendable {
    /// The socket opened: greet the client.
    case opened
    /// A text message, decoded on the socket's event loop.
    case frame(ClientFrame)
    /// A text message that is no frame: malformed JSON, or no type.
    case malformed
    /// A frame refused as it is read (a missing field, a control character, an unknown type), with its id.
    case invalid(re: String?, ParleyError)
    case binary
    /// The socket is gone: clean up after it. Nothing comes after it.
    case closed

    /// A text message from the client, decoded.
    init(text: ByteBuffer) {
        do {
            self = .frame(try text.withUnsafeReadableBytes { try ClientFrame(json: $0) })
        } catch let refused as ClientFrame.Refused {
            self = .invalid(re: refused.id, refused.error)
        } catch {
            self = .malformed
        }
    }
}
