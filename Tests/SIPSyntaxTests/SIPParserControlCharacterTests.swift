import Foundation
import NIOCore
import SIPSyntax
import Testing

/// Control characters in the head of a message (RFC 3261 §25.1): HTAB is the only one allowed,
/// except inside a quoted-pair of a quoted-string or comment, and a CR must be part of CRLF.
@Suite struct SIPParserControlCharacterTests {
    /// One input of the fuzzer's regression corpus (Fuzz/FailCases) and the error it must now give.
    struct FailCase: CustomTestStringConvertible, Sendable {
        var file: String
        var reason: String
        var testDescription: String { file }
    }

    static let failCasesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/FailCases")

    /// Every file of Fuzz/FailCases with the reason its parse error must give.
    static let failCases = [
        // The serialiser turned the bare CR into a space, so the message changed on the round trip.
        FailCase(file: "bare-cr-in-header-value.sip", reason: "Bad Request - bare CR in User-Agent header"),
        FailCase(file: "bare-cr-in-header-value-crlf.sip", reason: "Bad Request - bare CR in User-Agent header"),
        FailCase(file: "nul-in-call-id.sip", reason: "Bad Request - control character in Call-ID header"),
        FailCase(file: "escape-in-user-agent.sip", reason: "Bad Request - control character in User-Agent header"),
    ]

    static func failCase(_ file: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: failCasesDirectory.appendingPathComponent(file)))
    }

    /// The error parsing `bytes` as a datagram gives; records an issue when it parses.
    static func datagramError(_ bytes: ByteBuffer) -> SIPParseError? {
        do {
            let message = try SIPParser().parse(datagram: bytes)
            Issue.record("parsed but must be rejected: \(message)")
            return nil
        } catch {
            return error
        }
    }

    /// The error framing `bytes` on a stream gives, or `nil` when it frames without one.
    static func streamError(_ bytes: ByteBuffer) -> SIPParseError? {
        var framer = SIPStreamFramer()
        framer.append(bytes)
        do {
            while try framer.next() != nil {}
            return nil
        } catch {
            return error
        }
    }

    static let options = SIPParserTests.options

    static func withHeader(_ line: String) -> ByteBuffer {
        ByteBuffer(string: options + line + "\r\n\r\n")
    }

    // MARK: - Regression corpus

    @Test func everyFuzzerFailCaseHasAnExpectedError() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.failCasesDirectory.path)
        #expect(Set(files) == Set(Self.failCases.map(\.file)))
    }

    @Test(arguments: failCases)
    func fuzzerFailCaseIsRejectedOnDatagramAndStream(_ failCase: FailCase) throws {
        let bytes = try Self.failCase(failCase.file)
        let datagram = try #require(Self.datagramError(bytes))
        #expect(datagram.reason == failCase.reason)
        #expect(datagram.statusCode == 400)
        let stream = try #require(Self.streamError(bytes), "the stream framer accepted \(failCase.file)")
        #expect(stream.reason == failCase.reason)
    }

    // MARK: - Header values

    @Test func rejectsNulInCallIDWithInvalidHeaderValue() throws {
        let text = Self.options.replacingOccurrences(of: "Call-ID: c1@192.0.2.1", with: "Call-ID: c1\u{0}@192.0.2.1")
        let error = try #require(Self.datagramError(ByteBuffer(string: text + "\r\n")))
        #expect(error.kind == .invalidHeaderValue)
        #expect(error.reason == "Bad Request - control character in Call-ID header")
    }

    @Test(arguments: [UInt8](0x00...0x08) + [0x0B, 0x0C] + [UInt8](0x0E...0x1F) + [0x7F])
    func rejectsEveryControlCharacterButHTABInAValue(_ byte: UInt8) throws {
        var bytes = Self.withHeader("Subject: a")
        bytes.moveWriterIndex(to: bytes.writerIndex - 4)
        bytes.writeBytes([byte, 0x62, 0x0D, 0x0A, 0x0D, 0x0A])
        let error = try #require(Self.datagramError(bytes))
        #expect(error.reason == "Bad Request - control character in Subject header")
    }

    @Test(arguments: 0..<17)
    func findsControlCharacterAndLineEndAtEveryPositionInAWord(_ padding: Int) throws {
        // The line scan reads eight bytes at a time; move the control byte and the CRLF across a word.
        let filler = String(repeating: "a", count: padding)
        let clean = try SIPParser().parse(datagram: Self.withHeader("Subject: \(filler)b"))
        #expect(clean.headers["Subject"] == filler + "b")
        for control in ["\u{0}", "\u{1F}", "\u{7F}", "\r"] {
            let error = try #require(Self.datagramError(Self.withHeader("Subject: \(filler)\(control)b")))
            #expect(error.reason.hasSuffix(" in Subject header"))
        }
    }

    @Test func acceptsHorizontalTabInAValue() throws {
        let message = try SIPParser().parse(datagram: Self.withHeader("Subject: a\tb"))
        #expect(message.headers["Subject"] == "a\tb")
    }

    @Test func rejectsBareCRAtTheEndOfAValueThatTrimmingWouldHide() throws {
        // "smf\r\r\n": the first CR is not part of the line end.
        let error = try #require(Self.datagramError(Self.withHeader("User-Agent: smf\r")))
        #expect(error.reason == "Bad Request - bare CR in User-Agent header")
    }

    @Test func rejectsControlCharacterOnAFoldedContinuationLine() throws {
        let error = try #require(Self.datagramError(Self.withHeader("Subject: first\r\n second\u{1}")))
        #expect(error.reason == "Bad Request - control character in Subject header")
    }

    @Test func rejectsUnescapedControlCharacterInsideAQuotedString() throws {
        let text = Self.options.replacingOccurrences(of: "To: <sip:bob", with: "To: \"B\u{7}ob\" <sip:bob")
        let error = try #require(Self.datagramError(ByteBuffer(string: text + "\r\n")))
        #expect(error.reason == "Bad Request - control character in To header")
    }

    @Test func acceptsControlCharactersEscapedInQuotedStringsAndCommentsAndKeepsThemOnRoundTrip() throws {
        // RFC 4475 §3.1.1.2 escapes BEL, NUL and DEL in a display name; comments allow quoted-pairs too.
        let text = Self.options.replacingOccurrences(of: "To: <sip:bob", with: "To: \"B\\\u{7}ob\\\u{0}\" <sip:bob")
        let bytes = ByteBuffer(string: text + "User-Agent: smf (build \\\u{1B}\\\u{7F})\r\nContent-Length: 0\r\n\r\n")
        let message = try SIPParser().parse(datagram: bytes)
        #expect(message.headers.to?.displayName == "B\u{7}ob\u{0}")
        #expect(message.headers["User-Agent"] == "smf (build \\\u{1B}\\\u{7F})")
        #expect(try SIPParser().parse(datagram: message.serializedBytes) == message)
    }

    @Test func rejectsAQuotedPairThatEscapesABareCR() throws {
        let error = try #require(Self.datagramError(Self.withHeader("Subject: \"a\\\rb\"")))
        #expect(error.reason == "Bad Request - bare CR in Subject header")
    }

    @Test func rejectsControlCharacterOutsideCommentAfterItCloses() throws {
        let error = try #require(Self.datagramError(Self.withHeader("Server: smf (x) \\\u{1}")))
        #expect(error.reason == "Bad Request - control character in Server header")
    }

    @Test func namesTheFirstOffendingFieldInMessageOrder() throws {
        let error = try #require(Self.datagramError(Self.withHeader("Subject: a\u{1}\r\nServer: \r")))
        #expect(error.reason == "Bad Request - control character in Subject header")
    }

    @Test func keepsNulInTheBody() throws {
        let message = try SIPParser().parse(
            datagram: ByteBuffer(string: Self.options + "Content-Length: 3\r\n\r\na\u{0}\r"))
        #expect(message.body == ByteBuffer(bytes: [0x61, 0x00, 0x0D]))
    }

    // MARK: - Error responses

    @Test func badRequestResponseLeavesOutTheOffendingField() throws {
        let error = try #require(Self.datagramError(Self.withHeader("User-Agent: smf\u{0}")))
        let response = try #require(error.badRequestResponse())
        #expect(response.statusCode == 400)
        #expect(response.reasonPhrase == "Bad Request - control character in User-Agent header")
        #expect(response.headers.callID == "c1@192.0.2.1")
        #expect(response.headers["User-Agent"] == nil)
    }

    @Test func controlCharacterInViaCannotBeAnswered() throws {
        let text = Self.options.replacingOccurrences(of: "branch=z9hG4bK1", with: "branch=z9hG4bK\u{1}")
        let error = try #require(Self.datagramError(ByteBuffer(string: text + "\r\n")))
        #expect(error.reason == "Bad Request - control character in Via header")
        #expect(error.badRequestResponse() == nil)
    }

    // MARK: - Start line

    @Test func rejectsControlCharacterInReasonPhrase() throws {
        let text = Self.options.replacingOccurrences(of: "OPTIONS sip:bob@example.com SIP/2.0", with: "SIP/2.0 200 O\u{0}K")
            + "\r\n"
        let error = try #require(Self.datagramError(ByteBuffer(string: text)))
        #expect(error.kind == .malformedStartLine)
        #expect(error.reason == "Bad Request - control character in Status-Line")
        #expect(error.badRequestResponse() == nil)
    }

    @Test func rejectsBareCRInRequestLineAndStillAnswers() throws {
        let text = Self.options.replacingOccurrences(of: "sip:bob@example.com SIP/2.0", with: "sip:bob@example.com\r SIP/2.0")
        let error = try #require(Self.datagramError(ByteBuffer(string: text + "\r\n")))
        #expect(error.reason == "Bad Request - bare CR in Request-Line")
        #expect(error.badRequestResponse()?.headers.callID == "c1@192.0.2.1")
    }
}
