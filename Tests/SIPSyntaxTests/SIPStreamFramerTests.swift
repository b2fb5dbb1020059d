import NIOCore
import SIPSyntax
import Testing

@Suite struct SIPStreamFramerTests {
    /// Valid torture messages that carry a Content-Length (mandatory on streams).
    static let streamable = ["wsinv", "esc01", "escnull", "longreq", "mpart01", "unreason", "noreason", "invut", "bcast"]

    /// Feeds `chunks` in order and collects every event.
    static func events(
        _ chunks: [ByteBuffer], role: SIPStreamFramer.ConnectionRole = .accepted
    ) throws -> [SIPStreamEvent] {
        var framer = SIPStreamFramer(role: role)
        var result: [SIPStreamEvent] = []
        for chunk in chunks {
            framer.append(chunk)
            while let event = try framer.next() { result.append(event) }
        }
        #expect(framer.bufferedBytes == 0)
        return result
    }

    static func stream() throws -> (whole: ByteBuffer, pieces: [ByteBuffer], expected: [SIPStreamEvent]) {
        var whole = ByteBuffer()
        var pieces: [ByteBuffer] = []
        var expected: [SIPStreamEvent] = []
        let ping = ByteBuffer(string: "\r\n\r\n")
        for name in streamable {
            let bytes = try Torture.bytes(name)
            expected.append(.message(try SIPParser().parse(datagram: bytes)))
            pieces.append(bytes)
            whole.writeImmutableBuffer(bytes)
            pieces.append(ping)
            whole.writeImmutableBuffer(ping)
            expected.append(.ping)
        }
        return (whole, pieces, expected)
    }

    @Test func framesSameEventsAllAtOnceOneAtATimeAndByteByByte() throws {
        let (whole, pieces, expected) = try Self.stream()
        #expect(try Self.events([whole]) == expected)
        #expect(try Self.events(pieces) == expected)
        var bytes: [ByteBuffer] = []
        var copy = whole
        while let byte = copy.readSlice(length: 1) { bytes.append(byte) }
        #expect(try Self.events(bytes) == expected)
    }

    @Test func framesAcrossArbitraryChunkBoundaries() throws {
        let (whole, _, expected) = try Self.stream()
        for size in [2, 3, 7, 64, 333] {
            var chunks: [ByteBuffer] = []
            var copy = whole
            while copy.readableBytes > 0 {
                if let chunk = copy.readSlice(length: Swift.min(size, copy.readableBytes)) { chunks.append(chunk) }
            }
            #expect(try Self.events(chunks) == expected, "chunk size \(size)")
        }
    }

    @Test func lonePongIsReportedAtOnceOnInitiatedConnections() throws {
        #expect(try Self.events([ByteBuffer(string: "\r\n")], role: .initiated) == [.pong])
        var framer = SIPStreamFramer(role: .accepted)
        framer.append(ByteBuffer(string: "\r\n"))
        #expect(try framer.next() == nil)  // could still become a ping
        framer.append(ByteBuffer(string: "\r\n"))
        #expect(try framer.next() == .ping)
    }

    @Test func crlfBeforeMessageIsAPongFollowedByTheMessage() throws {
        let message = try Torture.bytes("noreason")
        var input = ByteBuffer(string: "\r\n")
        input.writeImmutableBuffer(message)
        let events = try Self.events([input])
        #expect(events.count == 2)
        #expect(events.first == .pong)
        #expect(events.last == .message(try SIPParser().parse(datagram: message)))
    }

    @Test func waitsForTheWholeBody() throws {
        let message = try Torture.bytes("unreason")
        var framer = SIPStreamFramer()
        var head = message
        let first = head.readSlice(length: message.readableBytes - 10) ?? ByteBuffer()
        framer.append(first)
        #expect(try framer.next() == nil)
        framer.append(head)
        let event = try framer.next()
        #expect(event == .message(try SIPParser().parse(datagram: message)))
    }

    @Test func rejectsStreamMessageWithoutContentLength() throws {
        var framer = SIPStreamFramer()
        framer.append(try Torture.bytes("inv2543"))
        #expect {
            try framer.next()
        } throws: { error in
            (error as? SIPParseError)?.kind == .missingContentLength
        }
        // Framing is lost: the framer keeps failing.
        #expect(throws: SIPParseError.self) { try framer.next() }
    }

    @Test func rejectsBodyLargerThanLimit() throws {
        var limits = SIPParser.Limits()
        limits.maxStreamBodyBytes = 100
        var framer = SIPStreamFramer(limits: limits)
        framer.append(try Torture.bytes("wsinv"))  // Content-Length 150
        #expect {
            try framer.next()
        } throws: { error in
            let error = error as? SIPParseError
            return error?.kind == .messageTooLarge && error?.badRequestResponse()?.statusCode == 513
        }
    }

    @Test func rejectsEndlessHeaderSection() throws {
        var limits = SIPParser.Limits()
        limits.maxMessageBytes = 1_000
        var framer = SIPStreamFramer(limits: limits)
        framer.append(ByteBuffer(string: "OPTIONS sip:a@b SIP/2.0\r\n"))
        #expect(try framer.next() == nil)
        framer.append(ByteBuffer(string: String(repeating: "X-Filler: 0123456789\r\n", count: 60)))
        #expect {
            try framer.next()
        } throws: { error in
            (error as? SIPParseError)?.kind == .messageTooLarge
        }
    }
}
