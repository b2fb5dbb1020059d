/// A SIP, SIPS or tel URI, or any other absolute URI kept opaque (RFC 3261 §19.1, RFC 3966).
///
/// Components are stored in their wire form: `%`-escapes are kept as received, so a parsed URI
/// serialises back to the same text (apart from the scheme, which is lower-cased). Use
/// ``isEquivalent(to:)`` for the comparison rules of RFC 3261 §19.1.4, and
/// ``SIPURI/percentDecoded(_:)`` to read an escaped component.
///
/// - `sip`/`sips`: `sip:user:password@host:port;uri-parameters?headers`
/// - `tel`: `tel:+1-201-555-0123;phone-context=...` — the number is in ``user`` and ``host`` is empty.
/// - any other scheme: everything after `scheme:` is in ``opaque``.
public struct SIPURI: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// One `?name=value` URI header (RFC 3261 §19.1.1).
    public struct Header: Hashable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Lower-cased scheme: `"sip"`, `"sips"`, `"tel"` or any other.
    public var scheme: String
    public var user: String?
    public var password: String?
    /// Host name, IPv4 address or IPv6 reference with its brackets (`"[2001:db8::10]"`).
    public var host: String
    public var port: Int?
    /// URI parameters (`;transport=tcp;lr`).
    public var parameters: SIPParameters
    /// URI headers (`?subject=x&priority=urgent`).
    public var headers: [Header]
    /// The scheme-specific part of a URI whose scheme is not sip, sips or tel.
    public var opaque: String?

    /// A SIP URI from its parts.
    public init(
        scheme: String = "sip", user: String? = nil, password: String? = nil, host: String, port: Int? = nil,
        parameters: SIPParameters = SIPParameters(), headers: [Header] = []
    ) {
        self.scheme = scheme.lowercased()
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
        self.opaque = nil
    }

    /// Builds an empty URI for the parser without normalising the (already lower-case) scheme.
    init(parsedScheme: String) {
        self.scheme = parsedScheme
        self.user = nil
        self.password = nil
        self.host = ""
        self.port = nil
        self.parameters = SIPParameters()
        self.headers = []
        self.opaque = nil
    }

    /// Parses a URI; `nil` when it is malformed.
    public init?(_ description: String) {
        guard let uri = try? SIPURI(parsing: description) else { return nil }
        self = uri
    }

    /// Parses a URI, throwing an error that says what is wrong.
    public init(parsing string: String) throws(SIPParseError) {
        self = try Self.parse(Array(string.utf8)[...])
    }

    /// Whether this is a `sip` or `sips` URI.
    public var isSIP: Bool { scheme == "sip" || scheme == "sips" }

    /// `transport` URI parameter, lower-cased (RFC 3261 §19.1.1).
    public var transport: String? { parameters.value("transport")?.lowercased() }

    /// Whether the `lr` parameter is present (loose routing, RFC 3261 §16.12).
    public var isLooseRouting: Bool { parameters.contains("lr") }

    /// `maddr` URI parameter.
    public var maddr: String? { parameters.value("maddr") }

    /// The host without IPv6 brackets (for socket addresses).
    public var hostWithoutBrackets: String {
        if host.utf8.first == SIPGrammar.openBracket && host.utf8.last == SIPGrammar.closeBracket {
            return String(host.dropFirst().dropLast())
        }
        return host
    }

    /// The canonical wire form.
    public var description: String {
        var out = scheme
        out += ":"
        if let opaque {
            out += opaque
            return out
        }
        if let user {
            out += user
            if let password {
                out += ":"
                out += password
            }
            if scheme != "tel" { out += "@" }
        }
        out += host
        if let port {
            out += ":"
            out += String(port)
        }
        out += parameters.description
        if !headers.isEmpty {
            out += "?"
            out += headers.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        }
        return out
    }

    /// Decodes `%`-escapes in a URI component (RFC 3261 §19.1.2); `nil` when an escape is malformed.
    public static func percentDecoded(_ component: String) -> String? {
        SIPGrammar.percentDecoded(component)
    }

    /// URI equality as defined by RFC 3261 §19.1.4.
    ///
    /// Scheme and host compare case-insensitively, user and password case-sensitively after
    /// unescaping; `user`, `ttl`, `method`, `maddr` and `transport` parameters must match when present
    /// in either; other parameters must match only when present in both; headers must all match.
    public func isEquivalent(to other: SIPURI) -> Bool {
        guard scheme == other.scheme else { return false }
        if opaque != nil || other.opaque != nil { return opaque == other.opaque }
        func decoded(_ s: String?) -> String? { s.map { SIPGrammar.percentDecoded($0) ?? $0 } }
        guard decoded(user) == decoded(other.user), decoded(password) == decoded(other.password) else { return false }
        guard host.lowercased() == other.host.lowercased(), port == other.port else { return false }
        for name in ["user", "ttl", "method", "maddr", "transport"] {
            let a = parameters.value(name).flatMap(SIPGrammar.percentDecoded)?.lowercased()
            let b = other.parameters.value(name).flatMap(SIPGrammar.percentDecoded)?.lowercased()
            if parameters.contains(name) != other.parameters.contains(name) || a != b { return false }
        }
        for parameter in parameters.parameters where other.parameters.contains(parameter.name) {
            let a = parameter.value.flatMap(SIPGrammar.percentDecoded)?.lowercased()
            let b = other.parameters.value(parameter.name).flatMap(SIPGrammar.percentDecoded)?.lowercased()
            if a != b { return false }
        }
        func normalisedHeaders(_ headers: [Header]) -> [String: String] {
            var result: [String: String] = [:]
            for header in headers {
                result[SIPHeaders.canonicalName(SIPGrammar.percentDecoded(header.name) ?? header.name)] =
                    SIPGrammar.percentDecoded(header.value) ?? header.value
            }
            return result
        }
        return normalisedHeaders(headers) == normalisedHeaders(other.headers)
    }

    // MARK: - Parsing

    static func parse<B: SIPByteSlice>(_ bytes: B, materialize: Bool = true) throws(SIPParseError) -> SIPURI {
        guard let colon = bytes.firstIndex(of: SIPGrammar.colon), colon > bytes.startIndex else {
            throw .invalidURI("missing scheme")
        }
        let schemeBytes = bytes[bytes.startIndex..<colon]
        guard let firstByte = schemeBytes.first, SIPGrammar.isAlpha(firstByte),
            schemeBytes.allSatisfy({ SIPGrammar.isAlpha($0) || SIPGrammar.isDigit($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E })
        else { throw .invalidURI("bad scheme") }
        let rest = bytes[(colon + 1)...]
        guard !rest.isEmpty else { throw .invalidURI("empty after scheme") }
        guard rest.allSatisfy(SIPGrammar.isURIChar) else { throw .invalidURI("character not allowed in URI") }
        if Self.equalsIgnoringCase(schemeBytes, "sip") { return try parseSIP(scheme: "sip", rest, materialize: materialize) }
        if Self.equalsIgnoringCase(schemeBytes, "sips") { return try parseSIP(scheme: "sips", rest, materialize: materialize) }
        let scheme = SIPGrammar.string(schemeBytes).lowercased()
        switch scheme {
        case "tel": return try parseTel(rest)
        default:
            var uri = SIPURI(parsedScheme: scheme)
            uri.opaque = SIPGrammar.string(rest)
            return uri
        }
    }

    private static func equalsIgnoringCase<B: SIPByteSlice>(_ bytes: B, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        var j = 0
        for byte in bytes {
            if (byte | 0x20) != lower.utf8Start[j] { return false }
            j += 1
        }
        return true
    }

    private static func parseSIP<B: SIPByteSlice>(
        scheme: String, _ bytes: B, materialize: Bool
    ) throws(SIPParseError) -> SIPURI {
        var uri = SIPURI(parsedScheme: scheme)
        var hostStart = bytes.startIndex
        // userinfo ends at the first "@": "@" is not allowed unescaped anywhere else (§25.1).
        if let at = bytes.firstIndex(of: SIPGrammar.at) {
            let userinfo = bytes[bytes.startIndex..<at]
            let userEnd = userinfo.firstIndex(of: SIPGrammar.colon) ?? userinfo.endIndex
            let user = userinfo[userinfo.startIndex..<userEnd]
            guard !user.isEmpty else { throw .invalidURI("empty user part") }
            try checkEscapes(user)
            if materialize { uri.user = SIPGrammar.string(user) }
            if userEnd < userinfo.endIndex {
                let password = userinfo[(userEnd + 1)...]
                try checkEscapes(password)
                if materialize { uri.password = SIPGrammar.string(password) }
            }
            hostStart = at + 1
        }
        // host
        var i = hostStart
        if i < bytes.endIndex && bytes[i] == SIPGrammar.openBracket {
            guard let close = bytes[i...].firstIndex(of: SIPGrammar.closeBracket) else {
                throw .invalidURI("unterminated IPv6 reference")
            }
            let inner = bytes[(i + 1)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ SIPGrammar.isHexDigit($0) || $0 == SIPGrammar.colon || $0 == 0x2E })
            else { throw .invalidURI("bad IPv6 reference") }
            i = close + 1
        } else {
            while i < bytes.endIndex, isHostChar(bytes[i]) { i += 1 }
        }
        guard i > hostStart else { throw .invalidURI("empty host") }
        if materialize { uri.host = SIPGrammar.string(bytes[hostStart..<i]) }
        // port
        if i < bytes.endIndex && bytes[i] == SIPGrammar.colon {
            var end = i + 1
            while end < bytes.endIndex && SIPGrammar.isDigit(bytes[end]) { end += 1 }
            guard let port = SIPGrammar.parseInt(bytes[(i + 1)..<end], max: 65535) else { throw .invalidURI("bad port") }
            uri.port = port
            i = end
        }
        // parameters and headers
        let headersStart = bytes[i...].firstIndex(of: SIPGrammar.question) ?? bytes.endIndex
        if i < headersStart {
            guard bytes[i] == SIPGrammar.semicolon else { throw .invalidURI("unexpected character after host") }
            let parameterBytes = bytes[i..<headersStart]
            guard let parameters = SIPParameters.parse(parameterBytes, allowQuotedValues: false, materialize: materialize)
            else { throw .invalidURI("bad URI parameter") }
            try checkEscapes(parameterBytes)
            uri.parameters = parameters
        }
        if headersStart < bytes.endIndex {
            let headers = try parseHeaders(bytes[(headersStart + 1)...])
            if materialize { uri.headers = headers }
        }
        return uri
    }

    private static func parseTel<B: SIPByteSlice>(_ bytes: B) throws(SIPParseError) -> SIPURI {
        var uri = SIPURI(parsedScheme: "tel")
        let end = bytes.firstIndex(of: SIPGrammar.semicolon) ?? bytes.endIndex
        let number = bytes[bytes.startIndex..<end]
        guard !number.isEmpty else { throw .invalidURI("empty telephone number") }
        uri.user = SIPGrammar.string(number)
        guard let parameters = SIPParameters.parse(bytes[end...], allowQuotedValues: false) else {
            throw .invalidURI("bad tel parameter")
        }
        uri.parameters = parameters
        return uri
    }

    private static func parseHeaders<B: SIPByteSlice>(_ bytes: B) throws(SIPParseError) -> [Header] {
        guard !bytes.isEmpty else { return [] }
        var headers: [Header] = []
        var start = bytes.startIndex
        while start <= bytes.endIndex {
            let end = bytes[start...].firstIndex(of: SIPGrammar.ampersand) ?? bytes.endIndex
            let part = bytes[start..<end]
            guard let eq = part.firstIndex(of: SIPGrammar.equals), eq > part.startIndex else {
                throw .invalidURI("bad URI header")
            }
            try checkEscapes(part)
            headers.append(Header(name: SIPGrammar.string(part[..<eq]), value: SIPGrammar.string(part[(eq + 1)...])))
            start = end + 1
        }
        return headers
    }

    /// Rejects a `%` not followed by two hex digits (RFC 3261 §25.1 `escaped`).
    private static func checkEscapes<B: SIPByteSlice>(_ bytes: B) throws(SIPParseError) {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == SIPGrammar.percent {
                guard i + 2 < bytes.endIndex,
                    SIPGrammar.isHexDigit(bytes[i + 1]), SIPGrammar.isHexDigit(bytes[i + 2])
                else { throw .invalidURI("bad escape sequence") }
                i += 3
            } else {
                i += 1
            }
        }
    }

    /// hostname / IPv4address characters (RFC 3261 §25.1).
    private static func isHostChar(_ byte: UInt8) -> Bool {
        SIPGrammar.isAlpha(byte) || SIPGrammar.isDigit(byte) || byte == 0x2D || byte == 0x2E || byte == 0x5F
    }
}
