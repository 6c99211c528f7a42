import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Synchronization
import Testing

@testable import ParleyServer

/// The socket handler on a testing channel, whose clock the test moves. Real sockets are exercised by the live and
/// cluster tests.
@Suite("A socket's handler")
struct SocketHandlerTests {
    /// What the handler handed to the gateway.
    final class Received: Sendable {
        private let inputs = Mutex<[String]>([])
        func add(_ input: Inbound) {
            let name =
                switch input {
                case .opened: "opened"
                case .frame(let frame): "frame:\(frame.kind.rawValue)"
                case .malformed: "malformed"
                case .invalid: "invalid"
                case .binary: "binary"
                case .closed: "closed"
                }
            inputs.withLock { $0.append(name) }
        }
        var all: [String] { inputs.withLock { $0 } }
    }

    /// Runs `body` with a handler on a connected testing channel, for a token that expires at `tokenExpiry`; its
    /// inputs reach `received`.
    func withSocket(
        tokenExpiry: Date = .distantFuture, _ body: (NIOAsyncTestingChannel, Connection, Received) async throws -> Void
    ) async throws {
        try await withSQLiteStore { store in
            let channel = NIOAsyncTestingChannel()
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
            let connection = Connection(
                id: "n.1", userId: "u_1", tokenExpiry: tokenExpiry, store: store, sink: SocketFrameSink(channel: channel), channel: channel)
            let received = Received()
            try await channel.testingEventLoop.executeInContext {
                try channel.pipeline.syncOperations.addHandler(
                    SocketHandler(connection: connection, rateLimit: 100, heartbeat: .seconds(30)) { received.add($0) })
            }
            try await body(channel, connection, received)
        }
    }

    @Test("pings every period; a client that answers stays, one silent for a whole period after a ping is closed")
    func heartbeat() async throws {
        try await withSocket { channel, _, received in
            try await waitUntil("the handler reports the socket opened") { received.all == ["opened"] }
            await channel.testingEventLoop.advanceTime(by: .seconds(30))
            #expect(try await channel.readOutbound(as: WebSocketFrame.self)?.opcode == .ping)
            try await channel.writeInbound(clientFrame(.pong))
            await channel.testingEventLoop.advanceTime(by: .seconds(30))
            #expect(try await channel.readOutbound(as: WebSocketFrame.self)?.opcode == .ping)
            #expect(channel.isActive)
            await channel.testingEventLoop.advanceTime(by: .seconds(30))
            #expect(!channel.isActive)
            try await waitUntil("the handler reports the socket closed") { received.all == ["opened", "closed"] }
        }
    }

    @Test(
        "a client's close is answered with its code (1002 for one a frame may not carry) and the socket closed; text goes to the gateway decoded, in order"
    )
    func closeHandshake() async throws {
        try await withSocket { channel, _, received in
            for text in [#"{"type":"ping","id":"1"}"#, #"{"type":"typing","room":"r"}"#, "f3"] {
                try await channel.writeInbound(clientFrame(.text, ByteBuffer(string: text)))
            }
            try await channel.writeInbound(clientFrame(.binary, ByteBuffer(string: "b")))
            var code = ByteBuffer()
            code.writeInteger(UInt16(4000))
            try await channel.writeInbound(clientFrame(.connectionClose, code))
            let reply = try #require(try await channel.readOutbound(as: WebSocketFrame.self))
            #expect(reply.opcode == .connectionClose && reply.data.getInteger(at: reply.data.readerIndex, as: UInt16.self) == 4000)
            try await waitUntil("the socket is closed") { !channel.isActive }
            try await waitUntil("the handler reports the socket closed") { received.all.last == "closed" }
            #expect(received.all == ["opened", "frame:ping", "frame:typing", "malformed", "binary", "closed"])
        }
        // A code that no close frame may carry fails the connection.
        for invalid in [UInt16(999), 1006, 1015, 2999, 5000] {
            try await withSocket { channel, _, _ in
                var code = ByteBuffer()
                code.writeInteger(invalid)
                try await channel.writeInbound(clientFrame(.connectionClose, code))
                let reply = try #require(try await channel.readOutbound(as: WebSocketFrame.self))
                #expect(reply.data.getInteger(at: reply.data.readerIndex, as: UInt16.self) == 1002, "close code \(invalid)")
            }
        }
    }

    @Test("RSV bits, an unmasked frame, a reserved opcode and a one-byte close payload fail the connection with 1002 (RFC 6455)")
    func protocolErrors() async throws {
        var rsv = clientFrame(.text, ByteBuffer(string: #"{"type":"ping"}"#))
        rsv.rsv1 = true
        let broken = [
            rsv, WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: #"{"type":"ping"}"#)),
            clientFrame(WebSocketOpcode(encodedWebSocketOpcode: 3)!), clientFrame(.connectionClose, ByteBuffer(bytes: [3])),
        ]
        for frame in broken {
            try await withSocket { channel, _, received in
                try await channel.writeInbound(frame)
                let reply = try #require(try await channel.readOutbound(as: WebSocketFrame.self))
                #expect(reply.opcode == .connectionClose && reply.data.getInteger(at: reply.data.readerIndex, as: UInt16.self) == 1002)
                try await waitUntil("the socket is closed") { !channel.isActive }
                #expect(!received.all.contains { $0.hasPrefix("frame:") })
            }
        }
    }

    @Test("pings count against the frame rate: a flood gets an error frame, then close 1008")
    func pingFlood() async throws {
        try await withSocket { channel, _, _ in
            // The bucket holds twice the rate of 100, and refills as the pings come: each is answered until it is
            // empty, and none after.
            var pongs = 0
            for _ in 0..<5000 {
                try await channel.writeInbound(clientFrame(.ping))
                guard try await channel.readOutbound(as: WebSocketFrame.self)?.opcode == .pong else { break }
                pongs += 1
            }
            var closing: WebSocketFrame?
            while closing == nil {
                // The error frame and the close come through the connection's writer, on the channel's loop.
                await channel.testingEventLoop.run()
                let frame = try await nextOutbound(channel)
                if frame.opcode == .pong { pongs += 1 }
                if frame.opcode == .connectionClose { closing = frame }
            }
            #expect(pongs >= 200 && pongs < 5000)
            #expect(closing?.data.getInteger(at: closing!.data.readerIndex, as: UInt16.self) == 1008)
        }
    }

    /// A frame as a client sends it: masked (RFC 6455, 5.3).
    func clientFrame(_ opcode: WebSocketOpcode, _ data: ByteBuffer = ByteBuffer()) -> WebSocketFrame {
        let key: WebSocketMaskingKey = [7, 1, 8, 2]
        var masked = data
        masked.webSocketMask(key)
        return WebSocketFrame(fin: true, opcode: opcode, maskKey: key, data: masked)
    }

    @Test("a token that expires without a renewal closes the socket with 4401; a renewal moves the expiry")
    func tokenExpiry() async throws {
        try await withSocket(tokenExpiry: Date(timeIntervalSinceNow: -1)) { channel, _, _ in
            await channel.testingEventLoop.advanceTime(by: .milliseconds(20))
            let close = try await nextOutbound(channel)
            #expect(close.opcode == .connectionClose && close.data.getInteger(at: close.data.readerIndex, as: UInt16.self) == CloseCode.tokenExpired)
        }
        try await withSocket(tokenExpiry: Date(timeIntervalSinceNow: 1)) { channel, connection, _ in
            connection.tokenExpiry.withLock { $0 = Date(timeIntervalSinceNow: 3600) }
            // The timer set for the first expiry finds the renewed token and sets itself for the next ping. The
            // handler reads the token's expiry off the wall clock, which the testing loop does not move: the first
            // token's second is waited out for real, so that a handler that missed the renewal would close now.
            try await Task.sleep(for: .seconds(1))
            await channel.testingEventLoop.advanceTime(by: .seconds(2))
            #expect(try await channel.readOutbound(as: WebSocketFrame.self) == nil)
            await channel.testingEventLoop.advanceTime(by: .seconds(30))
            #expect(try await nextOutbound(channel).opcode == .ping)
        }
    }

    /// The next frame written on the channel, waiting for the writer's task.
    func nextOutbound(_ channel: NIOAsyncTestingChannel, sourceLocation: SourceLocation = #_sourceLocation) async throws -> WebSocketFrame {
        var frame: WebSocketFrame?
        try await waitUntil("a frame is written", sourceLocation: sourceLocation) {
            frame = try await channel.readOutbound(as: WebSocketFrame.self)
            return frame != nil
        }
        return frame!
    }

    @Test("while the inbox holds its read-ahead the socket reads no more, and reads again once the inbox is taken")
    func readBackpressure() async throws {
        let gate = Gate()
        let resumed = Received()
        let inbox = Inbox(run: { _ in await gate.pass() }, runAtOnce: { _, _ in false }, resumeReading: { resumed.add(.opened) })
        // The first input holds the task at the gate; the rest wait in the queue.
        inbox.push(.opened)
        try await waitUntil("the first input holds the task at the gate") { gate.waiting == 1 }
        for _ in 1..<Inbox.readAhead { inbox.push(.binary) }
        #expect(!inbox.holdsReads())
        inbox.push(.malformed)
        #expect(inbox.holdsReads())
        #expect(resumed.all.isEmpty)
        gate.open()
        try await waitUntil("the inbox resumes reading") { resumed.all.count == 1 }
        #expect(!inbox.holdsReads())
    }

    @Test(
        "an input run at once holds what comes after it until it is done; then the rest run in order, and an input that finds others waiting joins them"
    )
    func runAtOnce() async throws {
        let ran = Received()
        let atOnce = Received()
        let pending = Mutex<[@Sendable () -> Void]>([])
        let inbox = Inbox(
            run: { ran.add($0) },
            runAtOnce: { input, done in
                guard case .frame(let frame) = input, frame.kind == .signal else { return false }
                atOnce.add(input)
                pending.withLock { $0.append(done) }
                return true
            }, resumeReading: {})
        let signal = Inbound(text: ByteBuffer(string: #"{"type":"signal","meeting":"m","to":"c","kind":"bye"}"#))
        inbox.push(signal)
        inbox.push(.binary)
        inbox.push(signal)
        inbox.push(.malformed)
        // The first signal is not done: nothing after it has run. What is tested is that nothing does, so the inbox
        // gets a moment in which to run the rest wrongly.
        try await Task.sleep(for: .milliseconds(100))
        #expect(atOnce.all == ["frame:signal"] && ran.all.isEmpty)
        pending.withLock { $0.removeFirst() }()
        // The signal that waited behind others runs in the queue, in its place.
        try await waitUntil("the waiting inputs run, in order") { ran.all == ["binary", "frame:signal", "malformed"] }
        #expect(atOnce.all == ["frame:signal"])
        // With nothing waiting, the next runs at once again; one that is not run at once goes to `run`.
        inbox.push(.opened)
        try await waitUntil("the next input runs") { ran.all.count == 4 }
        inbox.push(signal)
        try await waitUntil("the next signal runs at once") { atOnce.all.count == 2 }
        #expect(ran.all == ["binary", "frame:signal", "malformed", "opened"])
    }
}
