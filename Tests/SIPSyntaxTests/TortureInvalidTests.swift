import NIOCore
import SIPSyntax
import Testing

/// RFC 4475 §3.1.2 (invalid messages) and the §3.3 messages that must be answered with 400.
@Suite struct TortureInvalidTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let kind: SIPParseError.Kind
        let reason: String
        let statusCode: Int
        /// Whether a 400/505 can be sent back (a request whose Via and CSeq could be read).
        let answerable: Bool
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "badinv01", kind: .invalidHeaderValue, reason: "Bad Request - Malformed Via", statusCode: 400, answerable: false),
        Case(name: "clerr", kind: .contentLengthMismatch, reason: "Bad Request - Content-Length larger than message", statusCode: 400, answerable: true),
        Case(name: "ncl", kind: .invalidHeaderValue, reason: "Bad Request - Invalid Content-Length", statusCode: 400, answerable: true),
        Case(name: "scalar02", kind: .invalidHeaderValue, reason: "Bad Request - Malformed CSeq", statusCode: 400, answerable: false),
        Case(name: "scalarlg", kind: .invalidHeaderValue, reason: "Bad Request - Malformed CSeq", statusCode: 400, answerable: false),
        Case(name: "quotbal", kind: .invalidHeaderValue, reason: "Bad Request - Malformed To", statusCode: 400, answerable: true),
        Case(name: "ltgtruri", kind: .invalidURI, reason: "Bad Request - Malformed Request-URI", statusCode: 400, answerable: true),
        Case(name: "lwsruri", kind: .malformedStartLine, reason: "Bad Request - Malformed request line", statusCode: 400, answerable: true),
        Case(name: "lwsstart", kind: .malformedStartLine, reason: "Bad Request - Malformed request line", statusCode: 400, answerable: true),
        Case(name: "trws", kind: .malformedStartLine, reason: "Bad Request - Malformed request line", statusCode: 400, answerable: true),
        Case(name: "escruri", kind: .invalidURI, reason: "Bad Request - Request-URI must not contain headers", statusCode: 400, answerable: true),
        Case(name: "baddate", kind: .invalidHeaderValue, reason: "Bad Request - Date must be in GMT", statusCode: 400, answerable: true),
        Case(name: "regbadct", kind: .invalidHeaderValue, reason: "Bad Request - Malformed Contact", statusCode: 400, answerable: true),
        Case(name: "badaspec", kind: .invalidHeaderValue, reason: "Bad Request - Malformed To", statusCode: 400, answerable: true),
        Case(name: "baddn", kind: .invalidHeaderValue, reason: "Bad Request - Malformed From", statusCode: 400, answerable: true),
        Case(name: "badvers", kind: .unsupportedVersion, reason: "Version Not Supported", statusCode: 505, answerable: true),
        Case(name: "mismatch01", kind: .methodMismatch, reason: "Bad Request - CSeq method does not match request method", statusCode: 400, answerable: true),
        Case(name: "mismatch02", kind: .methodMismatch, reason: "Bad Request - CSeq method does not match request method", statusCode: 400, answerable: true),
        Case(name: "bigcode", kind: .malformedStartLine, reason: "Malformed status code", statusCode: 400, answerable: false),
        Case(name: "insuf", kind: .missingHeader, reason: "Bad Request - Missing Call-ID", statusCode: 400, answerable: true),
        Case(name: "multi01", kind: .invalidHeaderValue, reason: "Bad Request - Multiple CSeq header fields", statusCode: 400, answerable: true),
        Case(name: "mcl01", kind: .invalidHeaderValue, reason: "Bad Request - Multiple Content-Length header fields", statusCode: 400, answerable: true),
    ]

    @Test(arguments: cases)
    func rejectsWithSpecificReason(_ expected: Case) throws {
        let error = try Torture.error(expected.name)
        #expect(error.kind == expected.kind)
        #expect(error.reason == expected.reason)
        #expect(error.statusCode == expected.statusCode)
        let response = error.badRequestResponse()
        #expect((response != nil) == expected.answerable)
        if let response {
            let request = try Torture.bytes(expected.name)
            let text = request.getString(at: request.readerIndex, length: request.readableBytes) ?? ""
            #expect(response.statusCode == expected.statusCode)
            #expect(response.reasonPhrase == expected.reason)
            #expect(response.headers.topVia != nil)
            #expect(response.headers.cseq != nil)
            if let callID = response.headers.callID { #expect(text.contains(callID)) }
            #expect(response.headers.contentLength == 0)
            // The response is well formed unless the fields it must copy were themselves malformed or absent.
            if !["insuf", "quotbal", "badaspec", "baddn"].contains(expected.name) {
                let reparsed = try SIPParser().parse(datagram: response.serializedBytes)
                #expect(reparsed.response?.statusCode == expected.statusCode)
            }
        }
    }

    @Test func badVersionResponseCopiesDialogFields() throws {
        let response = try #require(Torture.error("badvers").badRequestResponse())
        #expect(response.statusCode == 505)
        #expect(response.headers.callID == "badvers.31417@c.example.com")
        #expect(response.headers.from?.tag == "qweoiqpe")
        #expect(response.headers.cseq == SIPCSeq(sequence: 1, method: .options))
    }
}
