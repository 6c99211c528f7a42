import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Synchronization
import Testing

@testable import ParleyServer

/// A sink that records what the writer hands it, each write once `gate` lets it through. The real sink is the
/// socket, exercised by the live tests.
final class RecordingSink: FrameSink {
    private let log = Mutex<(batches: [[String]], closed: UInt16?)>(([], nil))
    let gate: Gate

    init(gate: Gate = Gate(open: true)) {
        self.gate = gate
    }

    func write(_ frames: [ByteBuffer]) async throws {
        guard !frames.isEmpty else { return }
        await gate.pass()
        log.withLock { $0.batches.append(frames.map { String(buffer: $0) }) }
    }

    func close(code: UInt16, reason: String) async throws {
        log.withLock { $0.closed = code }
    }

    var batches: [[String]] { log.withLock { $0.batches } }
    var closed: UInt16? { log.withLock { $0.closed } }
}

@Suite("A connection's writer")
struct ConnectionTests {
    /// Runs `body` with a connection writing to `sink`, on a fresh SQLite store.
    func withConnection(
        maxQueuedBytes: Int = 1 << 20, sink: RecordingSink = RecordingSink(), _ body: (Connection, SQLStore) async throws -> Void
    ) async throws {
        try await withSQLiteStore { store in
            let connection = Connection(
                id: "n.1", userId: "u_1", tokenExpiry: .distantFuture, store: store, sink: sink, maxQueuedBytes: maxQueuedBytes)
            try await body(connection, store)
        }
    }

    @Test("what queues up while the writer is busy goes out as one batch, with one flush, in order")
    func batches() async throws {
        let sink = RecordingSink(gate: Gate())
        try await withConnection(sink: sink) { connection, _ in
            // The first frame starts the writer, which is held in its write while the rest queue up.
            connection.enqueue(.frame(ByteBuffer(string: "f1")))
            try await waitUntil("the writer is held in its first write") { sink.gate.waiting == 1 }
            for n in 2...100 { connection.enqueue(.frame(ByteBuffer(string: "f\(n)"))) }
            connection.enqueue(.close(code: 1000, reason: "done"))
            sink.gate.open()
            try await waitUntil("the socket is closed") { sink.closed != nil }
            #expect(sink.batches == [["f1"], (2...100).map { "f\($0)" }])
            #expect(sink.closed == 1000)
        }
    }

    @Test("a replay, its replay.done and the subscribe reply leave as one batch; later live events are deduplicated")
    func replayBatch() async throws {
        try await withConnection { _, store in
            let alice = try await store.createUser(username: "alice", name: "Alice", passwordHash: "h")
            let room = try await store.createGroup(owner: alice.id, name: "Log", members: []).room.id
            var sent: [Message] = []
            for n in 1...5 {
                sent.append(try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "m\(n)").message)
            }
            let sink = RecordingSink()
            let connection = Connection(id: "n.2", userId: alice.id, tokenExpiry: .distantFuture, store: store, sink: sink)
            connection.enqueue(.subscribe(room: room, since: 2, reply: ByteBuffer(string: "reply")))
            // The live copy of a message the replay holds, queued while the replay reads the store.
            let duplicate = try Frames.encode(Event.messageCreated(sent[4]))
            connection.enqueue(.event(EventHeader.decode(duplicate)!, duplicate))
            connection.enqueue(.close(code: 1000, reason: "done"))
            try await waitUntil("the socket is closed") { sink.closed != nil }
            let frames = try #require(sink.batches.first)
            #expect(sink.batches.count == 1)
            #expect(frames.count == 5)  // seq 3, 4, 5, replay.done, reply: the duplicate of 5 dropped
            #expect(frames[0].contains(#""seq":3"#) && frames[2].contains(#""seq":5"#))
            #expect(frames[3].contains("replay.done") && frames[4] == "reply")
        }
    }

    @Test("a long replay is written in chunks as the socket takes them, and truncated to its newest 500 by seq")
    func pagedReplay() async throws {
        try await withConnection { _, store in
            let alice = try await store.createUser(username: "alice", name: "Alice", passwordHash: "h")
            let room = try await store.createGroup(owner: alice.id, name: "Long", members: []).room.id
            let text = String(repeating: "z", count: 2000)
            for _ in 1...520 { _ = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: text) }
            for (since, first, truncated) in [(Int64(0), Int64(21), true), (100, 101, false)] {
                let sink = RecordingSink()
                let connection = Connection(id: "n.5", userId: alice.id, tokenExpiry: .distantFuture, store: store, sink: sink)
                connection.enqueue(.subscribe(room: room, since: since, reply: ByteBuffer(string: "reply")))
                try await waitUntil("the subscribe's reply is written") { sink.batches.joined().last == "reply" }
                let frames = Array(sink.batches.joined())
                let seqs = frames.compactMap { try? JSONReader.parse($0)["seq"].integer }
                #expect(seqs == Array(first...520), "since \(since)")
                #expect(frames.dropLast().last?.contains(#""truncated":\#(truncated)"#) == true)
                // No write holds much more than a chunk: the replay was never built whole.
                #expect(sink.batches.count > 1)
                #expect(sink.batches.allSatisfy { $0.reduce(0) { $0 + $1.utf8.count } < Connection.writeChunk + 2 * text.count })
            }
        }
    }

    @Test("a live event skips the queue onto the socket while the writer is idle; a duplicate is dropped and a gap queued")
    func directDelivery() async throws {
        try await withConnection { _, store in
            let alice = try await store.createUser(username: "alice", name: "Alice", passwordHash: "h")
            let room = try await store.createGroup(owner: alice.id, name: "Live", members: []).room.id
            let socket = NIOAsyncTestingChannel()
            let sink = RecordingSink()
            let connection = Connection(id: "n.3", userId: alice.id, tokenExpiry: .distantFuture, store: store, sink: sink, channel: socket)
            connection.enqueue(.subscribe(room: room, since: 0, reply: ByteBuffer(string: "reply")))
            try await waitUntil("the writer is idle after the subscribe") { connection.isIdle }
            #expect(sink.batches.joined().last == "reply")

            func event(_ n: Int) async throws -> (EventHeader, ByteBuffer) {
                let message = try await store.send(room: room, sender: alice.id, clientId: UUID().uuidString, text: "m\(n)").message
                let payload = try Frames.encode(Event.messageCreated(message))
                return (EventHeader.decode(payload)!, payload)
            }
            // On the socket's event loop, as the hub delivers, then flushed.
            func deliver(_ event: (EventHeader, ByteBuffer)) async throws -> Bool {
                try await socket.testingEventLoop.executeInContext {
                    defer { socket.flush() }
                    return connection.deliver(event.0, event.1, frame: .webSocketText(event.1))
                }
            }
            let first = try await event(1)
            #expect(try await deliver(first))
            #expect(try await socket.readOutbound(as: WebSocketFrame.self)?.unmaskedData == first.1)
            // The same event again: dropped by the cursor, neither written nor queued.
            #expect(try await !deliver(first))
            #expect(try await socket.readOutbound(as: WebSocketFrame.self) == nil)
            // Seq 3 after 1: the writer fills the gap from the store, in order.
            _ = try await event(2)
            let third = try await event(3)
            #expect(try await !deliver(third))
            try await waitUntil("the gap is written") { sink.batches.count == 2 }
            let filled = sink.batches[1]
            #expect(filled.count == 2 && filled[0].contains(#""seq":2"#) && filled[1].contains(#""seq":3"#))
            #expect(try await socket.readOutbound(as: WebSocketFrame.self) == nil)

            connection.enqueue(.close(code: 1000, reason: "done"))
            try await waitUntil("the socket is closed") { sink.closed != nil }
            #expect(sink.closed == 1000)
        }
    }

    @Test("a live event goes onto the socket as the frame encoded once for all its sockets, under the frame encoder")
    func encodedDelivery() async throws {
        try await withSQLiteStore { store in
            let socket = NIOAsyncTestingChannel()
            try await socket.pipeline.addHandler(WebSocketFrameEncoder())
            let connection = Connection(
                id: "n.5", userId: "u_1", tokenExpiry: .distantFuture, store: store, sink: RecordingSink(), channel: socket)
            let payload = ByteBuffer(string: #"{"type":"signal","meeting":"m_1","from":"n.6","to":"n.5","kind":"offer","data":{}}"#)
            let header = try #require(EventHeader.decode(payload))
            let written = try await socket.testingEventLoop.executeInContext {
                connection.encodedOutput = try socket.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
                defer { socket.flush() }
                return connection.deliver(header, payload, frame: .webSocketText(payload))
            }
            #expect(written)
            // One buffer, the whole frame: not a header and a payload, as the encoder writes a frame it encodes.
            #expect(try await socket.readOutbound(as: ByteBuffer.self) == .webSocketText(payload))
            #expect(try await socket.readOutbound(as: ByteBuffer.self) == nil)
        }
    }

    @Test("a text frame encoded once is byte for byte what NIO's frame encoder writes, for every length encoding")
    func encodedTextFrames() throws {
        for length in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: length)
            let channel = EmbeddedChannel(handler: WebSocketFrameEncoder())
            try channel.writeOutbound(WebSocketFrame(fin: true, opcode: .text, data: payload))
            var encoded = ByteBuffer()
            while var part = try channel.readOutbound(as: ByteBuffer.self) { encoded.writeBuffer(&part) }
            #expect(ByteBuffer.webSocketText(payload) == encoded, "a payload of \(length) bytes")
            _ = try channel.finish()
        }
    }

    @Test(
        "a frame that finds the writer idle goes straight onto the socket, flushed; one that comes before it is written waits its turn in the writer")
    func directFrame() async throws {
        try await withSQLiteStore { store in
            let socket = NIOAsyncTestingChannel()
            let sink = RecordingSink()
            let connection = Connection(id: "n.4", userId: "u_1", tokenExpiry: .distantFuture, store: store, sink: sink, channel: socket)
            // On the socket's loop, so that the first frame's write waits until both are in.
            try await socket.testingEventLoop.executeInContext {
                connection.enqueue(.frame(ByteBuffer(string: "r1")))
                connection.enqueue(.frame(ByteBuffer(string: "r2")))
            }
            await socket.testingEventLoop.run()
            try await waitUntil("r2 is written by the writer") { sink.batches == [["r2"]] }
            #expect(try await socket.readOutbound(as: WebSocketFrame.self).map { String(buffer: $0.unmaskedData) } == "r1")
            #expect(try await socket.readOutbound(as: WebSocketFrame.self) == nil)
            try await waitUntil("the writer is idle again") { connection.isIdle }
            // From another thread, with the writer idle again: straight onto the socket.
            connection.enqueue(.frame(ByteBuffer(string: "r3")))
            await socket.testingEventLoop.run()
            try await waitUntil("the writer is idle after r3") { connection.isIdle }
            #expect(try await socket.readOutbound(as: WebSocketFrame.self).map { String(buffer: $0.unmaskedData) } == "r3")
            #expect(sink.batches == [["r2"]])
        }
    }

    @Test("a queue past its byte budget closes the socket with 4008 instead of growing")
    func overflow() async throws {
        let sink = RecordingSink(gate: Gate())
        // Room for about ten of the frames below.
        try await withConnection(maxQueuedBytes: 25, sink: sink) { connection, _ in
            // The writer is held in its first write while the queue fills past its bound.
            for n in 1...20 { connection.enqueue(.frame(ByteBuffer(string: "f\(n)"))) }
            sink.gate.open()
            try await waitUntil("the socket is closed") { sink.closed != nil }
            #expect(sink.closed == CloseCode.slowConsumer)
            #expect(sink.batches.joined().count < 20)
        }
    }

    @Test("a socket whose queue overflowed and whose reader takes nothing is closed after the grace period")
    func overflowGrace() async throws {
        try await withConnection { _, store in
            let socket = NIOAsyncTestingChannel()
            try await socket.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
            // A reader that takes nothing: the writer's first write never returns.
            let stalledSink = RecordingSink(gate: Gate())
            defer { stalledSink.gate.open() }
            let stalled = Connection(
                id: "n.4", userId: "u_1", tokenExpiry: .distantFuture, store: store, sink: stalledSink, channel: socket, maxQueuedBytes: 20)
            // The writer is stuck in its first write before the queue fills, so that none of the rest is taken. (An
            // event, as a frame would skip the idle writer.)
            let event = ByteBuffer(string: #"{"type":"hello"}"#)
            stalled.enqueue(.event(try #require(EventHeader.decode(event)), event))
            try await waitUntil("the writer is stuck in its first write") { stalledSink.gate.waiting == 1 }
            // Ten bytes each: the third is past the budget.
            for n in 1...3 { stalled.enqueue(.frame(ByteBuffer(string: "frame \(n) of"))) }
            await socket.testingEventLoop.advanceTime(by: Connection.overflowGrace - .seconds(1))
            #expect(socket.isActive)
            await socket.testingEventLoop.advanceTime(by: .seconds(2))
            #expect(!socket.isActive)
        }
    }
}
