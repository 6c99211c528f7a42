import Foundation
import ParleyCore
import Testing

@Suite("Room policy")
struct RoomPolicyTests {
    @Test("removing others needs a strictly higher role; anyone may leave")
    func removal() {
        #expect(RoomPolicy.canRemove(.owner, target: .admin, isSelf: false))
        #expect(RoomPolicy.canRemove(.admin, target: .member, isSelf: false))
        #expect(!RoomPolicy.canRemove(.admin, target: .admin, isSelf: false))
        #expect(!RoomPolicy.canRemove(.member, target: .member, isSelf: false))
        #expect(RoomPolicy.canRemove(.owner, target: .owner, isSelf: true))
    }

    @Test("nobody is added as owner; only the owner adds admins")
    func adding() {
        #expect(!RoomPolicy.canAdd(.owner, as: .owner))
        #expect(RoomPolicy.canAdd(.owner, as: .admin))
        #expect(!RoomPolicy.canAdd(.admin, as: .admin))
        #expect(RoomPolicy.canAdd(.admin, as: .member))
        #expect(!RoomPolicy.canAdd(.member, as: .member))
    }

    @Test("the next owner is the longest-standing admin, else the longest-standing member")
    func succession() {
        #expect(RoomPolicy.nextOwner(among: [("m1", .member), ("a1", .admin), ("a2", .admin)]) == "a1")
        #expect(RoomPolicy.nextOwner(among: [("m1", .member), ("m2", .member)]) == "m1")
        #expect(RoomPolicy.nextOwner(among: []) == nil)
    }
}

@Suite("Validation")
struct ValidationTests {
    @Test("usernames are lowercased and limited to a safe alphabet")
    func usernames() throws {
        #expect(try Validate.username("Alice_01") == "alice_01")
        #expect(throws: ParleyError.self) { try Validate.username("al") }
        #expect(throws: ParleyError.self) { try Validate.username("alice smith") }
        #expect(throws: ParleyError.self) { try Validate.username(String(repeating: "a", count: 33)) }
    }

    @Test("passwords: 8 characters at least, 72 bytes at most (bcrypt reads no further)")
    func passwords() {
        #expect(throws: ParleyError.self) { try Validate.password("short") }
        #expect(throws: ParleyError.self) { try Validate.password(String(repeating: "é", count: 40)) }
        #expect(throws: Never.self) { try Validate.password("long enough") }
    }

    @Test("text may not be blank or over the limit; clientId must be a UUID")
    func messages() throws {
        #expect(throws: ParleyError.self) { try Validate.text("  \n ") }
        #expect(throws: ParleyError.self) { try Validate.text(String(repeating: "x", count: Limits.text.upperBound + 1)) }
        #expect(try Validate.clientId("6F1C3A0E-1111-4A2B-9C3D-000000000001") == "6f1c3a0e-1111-4a2b-9c3d-000000000001")
        #expect(throws: ParleyError.self) { try Validate.clientId("not-a-uuid") }
    }

    /// Foundation reads each byte of a UUID with `sscanf`'s `%2hhx`, which lets a space or a sign stand in for a digit
    /// ("A 611F6C-…", "…-0000000000-1"); ours takes hex digits only, as RFC 9562 writes them.
    @Test("a clientId is read as Foundation's UUID reads it, without the spaces and signs it lets through")
    func clientIdsAsFoundationReadsThem() {
        var inputs = [
            "", "6f1c3a0e-1111-4a2b-9c3d-00000000000", "6f1c3a0e-1111-4a2b-9c3d-0000000000011", "6f1c3a0e11114a2b9c3d000000000001",
            "{6f1c3a0e-1111-4a2b-9c3d-000000000001}", "6f1c3a0e-1111-4a2b-9c3d_000000000001", "6f1c3a0e-1111-4a2b-9c3d-00000000000g",
            "6f1c3a0e-1111-4a2b-9c3d-00000000000é", " 6f1c3a0e-1111-4a2b-9c3d-00000000001", "6f1c3a0e-1111-4a2b-9c3d-0000000000-1",
            "6f1c3a0-e1111-4a2b-9c3d-000000000001", "6F1C3A0E-1111-4A2B-9C3D-00000000000G", "6f1c3a0e+1111-4a2b-9c3d-000000000001",
        ]
        let alphabet = Array("0123456789abcdefABCDEFgG-+_ {}é")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var characters = Array(UUID().uuidString)
            if Bool.random(using: &generator) { characters = characters.map { Bool.random() ? Character($0.lowercased()) : $0 } }
            // Most inputs keep their UUID shape, with one character changed, so that each position is tried.
            if Int.random(in: 0..<4, using: &generator) > 0 {
                characters[Int.random(in: 0..<36, using: &generator)] = alphabet.randomElement(using: &generator)!
            }
            inputs.append(String(characters))
        }
        var accepted = 0
        for input in inputs {
            let foundation = UUID(uuidString: input)?.uuidString.lowercased()
            if let ours = try? Validate.clientId(input) {
                accepted += 1
                #expect(ours == foundation, "\(input)")
            } else if foundation != nil {
                #expect(input.contains { " +-".contains($0) }, "\(input)")
                #expect(
                    input.utf8.count != 36
                        || !input.utf8.enumerated().allSatisfy { offset, byte in
                            [8, 13, 18, 23].contains(offset) ? byte == UInt8(ascii: "-") : Character(UnicodeScalar(byte)).isHexDigit
                        }, "\(input)")
            }
        }
        #expect(accepted > 1000)
    }

    @Test("events keep their fields flat beside type")
    func flatEvents() throws {
        let message = Message(room: "r1", seq: 42, clientId: "c", sender: "u2", text: "hi", sentAt: Timestamp(milliseconds: 0))
        let json = String(decoding: try JSONEncoder().encode(Event.messageCreated(message)), as: UTF8.self)
        #expect(json.contains(#""type":"message.created""#) && json.contains(#""seq":42"#) && json.contains(#""sentAt":"1970-01-01T00:00:00.000Z""#))
        #expect(try JSONDecoder().decode(Event.self, from: Data(json.utf8)) == .messageCreated(message))
    }
}

@Suite("Timestamps")
struct TimestampTests {
    @Test("every millisecond survives the trip through ISO 8601")
    func roundTrip() throws {
        for milliseconds: Int64 in [0, 1, 999, 1_795_511_416_995, 1_795_511_417_060, -1, -1001] {
            let stamp = Timestamp(milliseconds: milliseconds)
            let decoded = try JSONDecoder().decode(Timestamp.self, from: try JSONEncoder().encode(stamp))
            #expect(decoded == stamp, "\(stamp.iso8601)")
        }
        #expect(Timestamp(milliseconds: 1_795_511_416_995).iso8601 == "2026-11-24T09:10:16.995Z")
    }

    @Test("written by hand, the time is the one Foundation's ISO 8601 format gives, leap days and all")
    func formatted() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var generator = SystemRandomNumberGenerator()
        // 1900 to 9999, the days around leap days and year ends, and random times between.
        let edges: [Int64] = [
            -2_208_988_800_000, -1, 0, 951_782_399_999, 951_782_400_000, 951_868_800_000, 4_107_542_399_999,
            4_107_542_400_000, 1_798_761_599_999, 253_402_300_799_999,
        ]
        let random = (0..<20_000).map { _ in Int64.random(in: -2_208_988_800_000...253_402_300_799_999, using: &generator) }
        for milliseconds in edges + random {
            let expected = Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(style)
            // Foundation's own rounding of the binary fraction can land a millisecond short; the seconds must agree,
            // and the milliseconds are the integer's.
            let written = Timestamp(milliseconds: milliseconds).iso8601
            let millis = (milliseconds % 1000 + 1000) % 1000
            #expect(written.prefix(20) == expected.prefix(20) && written.hasSuffix(String(format: ".%03dZ", millis)), "\(milliseconds)")
        }
    }
}

@Suite("Meeting policy")
struct MeetingPolicyTests {
    @Test("the host, a group admin, or either member of a direct room ends a meeting")
    func ending() {
        #expect(RoomPolicy.canEndMeeting(.member, isHost: true, in: .group))
        #expect(RoomPolicy.canEndMeeting(.admin, isHost: false, in: .group))
        #expect(!RoomPolicy.canEndMeeting(.member, isHost: false, in: .group))
        #expect(RoomPolicy.canEndMeeting(.member, isHost: false, in: .direct))
    }

    @Test("a connection id names its node before the last dot")
    func nodeOfConnection() {
        #expect(Attendee.node(of: "n_abc.17") == "n_abc")
        #expect(Attendee.node(of: "ws.1.3") == "ws.1")
        #expect(Attendee.node(of: "bare") == "bare")
    }
}
