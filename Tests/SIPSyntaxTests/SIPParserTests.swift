import Foundation
import NIOCore
import SIPSyntax
import Testing

@Suite struct SIPParserTests {
    static let options = """
        OPTIONS sip:bob@example.com SIP/2.0\r
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport\r
        Max-Forwards: 70\r
        To: <sip:bob@example.com>\r
        From: <sip:alice@example.com>;tag=a1\r
        Call-ID: c1@192.0.2.1\r
        CSeq: 1 OPTIONS\r

        """

    static func datagram(_ head: String, extraHeaders: String = "", body: String = "") -> ByteBuffer {
        ByteBuffer(string: head + extraHeaders + "\r\n" + body)
    }

    @Test func bodyIsRestOfDatagramWithoutContentLength() throws {
        let message = try SIPParser().parse(datagram: Self.datagram(Self.options, body: "hello"))
        #expect(message.body == ByteBuffer(string: "hello"))
    }

    @Test func shorterContentLengthTruncatesBody() throws {
        let message = try SIPParser().parse(
            datagram: Self.datagram(Self.options, extraHeaders: "Content-Length: 3\r\n", body: "hello"))
        #expect(message.body == ByteBuffer(string: "hel"))
    }

    @Test func acceptsBareLineFeedsAndLeadingBlankLines() throws {
        let text = "\r\n" + Self.options.replacingOccurrences(of: "\r\n", with: "\n") + "\n"
        let message = try SIPParser().parse(datagram: ByteBuffer(string: text))
        #expect(message.request?.method == .options)
        #expect(message.headers.callID == "c1@192.0.2.1")
    }

    @Test func rejectsMissingBlankLine() {
        #expect {
            try SIPParser().parse(datagram: ByteBuffer(string: Self.options))
        } throws: { error in
            (error as? SIPParseError)?.kind == .truncated
        }
    }

    @Test func enforcesHeaderFieldLimit() {
        var limits = SIPParser.Limits()
        limits.maxHeaderFields = 10
        let extra = String(repeating: "X-A: b\r\n", count: 10)
        #expect {
            try SIPParser(limits: limits).parse(datagram: Self.datagram(Self.options, extraHeaders: extra))
        } throws: { error in
            (error as? SIPParseError)?.kind == .tooManyHeaders
        }
    }

    @Test func enforcesLineLengthLimit() {
        var limits = SIPParser.Limits()
        limits.maxLineLength = 100
        let extra = "Subject: " + String(repeating: "x", count: 200) + "\r\n"
        #expect {
            try SIPParser(limits: limits).parse(datagram: Self.datagram(Self.options, extraHeaders: extra))
        } throws: { error in
            (error as? SIPParseError)?.kind == .lineTooLong
        }
    }

    @Test func enforcesMessageSizeLimitWith513() {
        var limits = SIPParser.Limits()
        limits.maxMessageBytes = 200
        #expect {
            try SIPParser(limits: limits).parse(datagram: Self.datagram(Self.options, body: String(repeating: "b", count: 300)))
        } throws: { error in
            (error as? SIPParseError)?.statusCode == 513
        }
    }

    @Test func rejectsOverflowingContentLength() {
        #expect {
            try SIPParser().parse(datagram: Self.datagram(Self.options, extraHeaders: "Content-Length: 99999999999999999999999\r\n"))
        } throws: { error in
            (error as? SIPParseError)?.reason == "Bad Request - Invalid Content-Length"
        }
    }

    @Test func missingViaCannotBeAnswered() throws {
        let text = Self.options.replacingOccurrences(of: "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport\r\n", with: "")
        do {
            _ = try SIPParser().parse(datagram: ByteBuffer(string: text + "\r\n"))
            Issue.record("parsed without Via")
        } catch {
            #expect(error.reason == "Bad Request - Missing Via")
            #expect(error.badRequestResponse() == nil)
        }
    }

    @Test func buildsCanonicalMessagesWithContentLength() throws {
        var headers = SIPHeaders()
        headers.prependVia(SIPVia(transport: "UDP", host: "192.0.2.1", port: 5060, branch: "z9hG4bKabc"))
        headers.from = SIPNameAddress(uri: SIPURI(user: "alice", host: "example.com"), parameters: [("tag", "1")])
        headers.to = SIPNameAddress(displayName: "Bob", uri: SIPURI(user: "bob", host: "example.com"))
        headers.callID = "x@y"
        headers.cseq = SIPCSeq(sequence: 1, method: .message)
        headers.maxForwards = 70
        headers.contentType = "text/plain"
        let request = SIPRequest(
            method: .message, uri: SIPURI(user: "bob", host: "example.com"), headers: headers, body: ByteBuffer(string: "hi"))
        let text = String(buffer: request.serializedBytes)
        #expect(
            text == """
                MESSAGE sip:bob@example.com SIP/2.0\r
                Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r
                From: <sip:alice@example.com>;tag=1\r
                To: "Bob" <sip:bob@example.com>\r
                Call-ID: x@y\r
                CSeq: 1 MESSAGE\r
                Max-Forwards: 70\r
                Content-Type: text/plain\r
                Content-Length: 2\r
                \r
                hi
                """)
        #expect(try SIPParser().parse(datagram: request.serializedBytes).request?.headers.contentLength == 2)
    }

    @Test func serializerFixesWrongContentLengthAndStripsLineBreaksFromValues() throws {
        var headers = SIPParser.sample
        headers.replaceOrAdd(name: "Content-Length", value: "99")
        headers.add(name: "Subject", value: "evil\r\nInjected: yes")
        let request = SIPRequest(method: .options, uri: SIPURI(host: "example.com"), headers: headers, body: ByteBuffer(string: "abc"))
        let reparsed = try SIPParser().parse(datagram: request.serializedBytes)
        #expect(reparsed.headers.contentLength == 3)
        #expect(!reparsed.headers.contains("Injected"))
        #expect(reparsed.headers["Subject"] == "evil  Injected: yes")
    }

    @Test func garbageAndTruncationsNeverCrash() throws {
        var rng = SplitMix(seed: 0x5EED)
        var inputs: [[UInt8]] = []
        for name in Torture.valid {
            let bytes = try Torture.bytes(name)
            inputs.append(bytes.getBytes(at: bytes.readerIndex, length: bytes.readableBytes) ?? [])
        }
        var parsedCount = 0
        for round in 0..<3_000 {
            var input = inputs[round % inputs.count]
            switch round % 4 {
            case 0: input = Array(input.prefix(Int(rng.next() % UInt64(input.count + 1))))
            case 1:
                for _ in 0..<8 { input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2: input = (0..<Int(rng.next() % 600)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            default:
                let cut = Int(rng.next() % UInt64(input.count))
                input.insert(contentsOf: [0x0D, 0x0A, 0x20, 0x22, 0x3C, 0x3B, 0x2C, 0x25], at: cut)
            }
            if (try? SIPParser().parse(datagram: ByteBuffer(bytes: input))) != nil { parsedCount += 1 }
            var framer = SIPStreamFramer()
            framer.append(ByteBuffer(bytes: input))
            while let event = try? framer.next() { _ = event }
        }
        // Truncations above the body and mutations in unchecked headers still parse.
        #expect(parsedCount > 0)
    }
}

extension SIPParser {
    static let sample = SIPHeaders([
        ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK9"), ("To", "<sip:b@example.com>"), ("From", "<sip:a@example.com>;tag=9"),
        ("Call-ID", "s@1"), ("CSeq", "1 OPTIONS"),
    ])
}

/// A small deterministic generator for the robustness test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
