/// Why a SIP message, URI or header value could not be parsed.
///
/// ``reason`` is a specific, human-readable text suitable as the reason phrase of the error
/// response (e.g. `"Bad Request - Missing Call-ID"`); ``kind`` is for matching in code and
/// ``statusCode`` is the response code a server should answer with (400, or 505 for an unsupported
/// SIP version, 513 for an oversized message; RFC 3261 §8.2, §21.5).
public struct SIPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The category of a parse failure.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case malformedStartLine = "malformed start line"
            case unsupportedVersion = "unsupported SIP version"
            case malformedHeader = "malformed header field"
            case missingHeader = "missing mandatory header"
            case invalidHeaderValue = "invalid header value"
            case methodMismatch = "CSeq method does not match request method"
            case contentLengthMismatch = "Content-Length does not match body"
            case missingContentLength = "missing Content-Length on a stream"
            case messageTooLarge = "message too large"
            case tooManyHeaders = "too many header fields"
            case lineTooLong = "line too long"
            case invalidURI = "invalid URI"
            case truncated = "truncated message"
        }

        private let code: Code

        /// The request or status line does not follow RFC 3261 §7.1/§7.2.
        public static let malformedStartLine = Kind(code: .malformedStartLine)
        /// The SIP-Version is not `SIP/2.0` (answered with 505, RFC 3261 §8.2.2... §21.5.26).
        public static let unsupportedVersion = Kind(code: .unsupportedVersion)
        /// A header line has no colon, a bad name, or bad folding.
        public static let malformedHeader = Kind(code: .malformedHeader)
        /// A header that RFC 3261 §8.1.1 requires is absent.
        public static let missingHeader = Kind(code: .missingHeader)
        /// A header value does not follow its grammar (e.g. a non-numeric Content-Length).
        public static let invalidHeaderValue = Kind(code: .invalidHeaderValue)
        /// The CSeq method differs from the request-line method (RFC 3261 §8.1.1.5).
        public static let methodMismatch = Kind(code: .methodMismatch)
        /// Content-Length is larger than the bytes received (RFC 3261 §18.3).
        public static let contentLengthMismatch = Kind(code: .contentLengthMismatch)
        /// A stream message without Content-Length (RFC 3261 §18.3, §20.14).
        public static let missingContentLength = Kind(code: .missingContentLength)
        /// The message exceeds a configured size limit.
        public static let messageTooLarge = Kind(code: .messageTooLarge)
        /// More header fields than the configured limit.
        public static let tooManyHeaders = Kind(code: .tooManyHeaders)
        /// A line exceeds the configured limit.
        public static let lineTooLong = Kind(code: .lineTooLong)
        /// A URI does not follow RFC 3261 §19.1 / §25.1.
        public static let invalidURI = Kind(code: .invalidURI)
        /// The message ends before its header section does.
        public static let truncated = Kind(code: .truncated)

        public var description: String { code.rawValue }
    }

    /// The category, for matching in code.
    public var kind: Kind
    /// A specific reason, usable as a response reason phrase.
    public var reason: String
    /// The status code a server should answer a malformed request with.
    public var statusCode: Int
    /// What could be read of the message before the error, used by ``badRequestResponse()``.
    var recovered: Recovered?

    /// The parts of a failed message that were readable.
    struct Recovered: Hashable, Sendable {
        var isRequest: Bool
        var headers: SIPHeaders
    }

    public init(kind: Kind, reason: String, statusCode: Int = 400) {
        self.kind = kind
        self.reason = reason
        self.statusCode = statusCode
        self.recovered = nil
    }

    public var description: String { "SIPParseError(\(kind)): \(reason)" }

    /// The error response to send for a malformed request, or `nil` when none can be sent.
    ///
    /// Copies Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2) from what was readable. Returns
    /// `nil` when the message was a response (responses are never answered, §18.1.2), when its kind
    /// could not be determined, or when the Via or CSeq needed to route and match the response could
    /// not be read (RFC 3261 §8.2.6.2, §18.2.2).
    public func badRequestResponse() -> SIPResponse? {
        guard let recovered, recovered.isRequest else { return nil }
        let source = recovered.headers
        guard source.topVia != nil, source.cseq != nil else { return nil }
        var headers = SIPHeaders()
        for field in source.fields where field.canonicalName == "via" {
            headers.add(name: "Via", value: field.value)
        }
        for (canonical, name) in [("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq")] {
            if let value = source[canonical] { headers.add(name: name, value: value) }
        }
        headers.add(name: "Content-Length", value: "0")
        return SIPResponse(statusCode: statusCode, reasonPhrase: reason, headers: headers)
    }

    func with(recovered: Recovered?) -> SIPParseError {
        var copy = self
        copy.recovered = recovered
        return copy
    }

    static func invalidURI(_ detail: String) -> SIPParseError {
        SIPParseError(kind: .invalidURI, reason: "Bad Request - Invalid URI: \(detail)")
    }
}
