/// One `via-parm` of a Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`).
///
/// `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...;rport=...`. Protocol name and transport
/// are upper-cased (they are case-insensitive tokens), everything else is kept as received.
public struct SIPVia: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The state of the `rport` parameter (RFC 3581 §3, §4).
    public enum RPort: Hashable, Sendable {
        /// No `rport` parameter.
        case absent
        /// `;rport` without a value: the client asks for the source port to be filled in.
        case requested
        /// `;rport=5060`: the source port the server saw.
        case value(Int)
    }

    /// The magic cookie that starts RFC 3261 branch IDs (§8.1.1.7).
    public static let branchMagicCookie = "z9hG4bK"

    public var protocolName: String
    public var protocolVersion: String
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, ... (upper-cased).
    public var transport: String
    /// Host name, IPv4 address or IPv6 reference with brackets.
    public var host: String
    public var port: Int?
    public var parameters: SIPParameters

    public init(
        transport: String, host: String, port: Int? = nil, branch: String? = nil,
        parameters: SIPParameters = SIPParameters(), protocolName: String = "SIP", protocolVersion: String = "2.0"
    ) {
        self.protocolName = protocolName.uppercased()
        self.protocolVersion = protocolVersion
        self.transport = transport.uppercased()
        self.host = host
        self.port = port
        self.parameters = parameters
        if let branch { self.branch = branch }
    }

    /// Parses one via-parm; `nil` when malformed.
    public init?(_ value: String) {
        guard let via = Self.parse(Array(value.utf8)[...]) else { return nil }
        self = via
    }

    /// `"SIP/2.0"`.
    public var sentProtocol: String { "\(protocolName)/\(protocolVersion)" }

    /// The `branch` parameter (transaction ID, RFC 3261 §17.2.3).
    public var branch: String? {
        get { parameters.value("branch") }
        set { setOrRemove("branch", newValue) }
    }

    /// The `received` parameter: the source address the server saw (RFC 3261 §18.2.1).
    public var received: String? {
        get { parameters.value("received") }
        set { setOrRemove("received", newValue) }
    }

    /// The `maddr` parameter.
    public var maddr: String? {
        get { parameters.value("maddr") }
        set { setOrRemove("maddr", newValue) }
    }

    /// The `ttl` parameter.
    public var ttl: Int? {
        parameters.value("ttl").flatMap { SIPGrammar.parseInt($0.utf8, max: 255) }
    }

    /// The `rport` parameter (RFC 3581). A value that is not a valid port reads as `.requested`.
    public var rport: RPort {
        get {
            switch parameters["rport"] {
            case .none: return .absent
            case .some(.none): return .requested
            case .some(.some(let text)):
                if let port = SIPGrammar.parseInt(text.utf8, max: 65535) { return .value(port) }
                return .requested
            }
        }
        set {
            switch newValue {
            case .absent: parameters.remove("rport")
            case .requested: parameters.set("rport", nil)
            case .value(let port): parameters.set("rport", String(port))
            }
        }
    }

    /// Whether the branch starts with the RFC 3261 magic cookie (§8.1.1.7, §17.2.3).
    public var hasRFC3261Branch: Bool { branch?.hasPrefix(Self.branchMagicCookie) ?? false }

    /// `host[:port]` as written in the sent-by.
    public var sentBy: String {
        if let port { return "\(host):\(port)" }
        return host
    }

    public var description: String {
        var out = protocolName
        out += "/"
        out += protocolVersion
        out += "/"
        out += transport
        out += " "
        out += sentBy
        out += parameters.description
        return out
    }

    private mutating func setOrRemove(_ name: String, _ value: String?) {
        if let value { parameters.set(name, value) } else { parameters.remove(name) }
    }

    // MARK: - Parsing

    /// An empty via-parm for validation, without normalising anything.
    private init(parsedTransport: String, host: String) {
        self.protocolName = "SIP"
        self.protocolVersion = "2.0"
        self.transport = parsedTransport
        self.host = host
        self.port = nil
        self.parameters = SIPParameters()
    }

    private static func token<B: SIPByteSlice>(_ head: B, _ i: inout Int) -> B? {
        let start = i
        while i < head.endIndex && SIPGrammar.isTokenChar(head[i]) { i += 1 }
        return i > start ? head[start..<i] : nil
    }

    private static func slash<B: SIPByteSlice>(_ head: B, _ i: inout Int) -> Bool {
        i = SIPGrammar.skipWhitespace(head, from: i)
        guard i < head.endIndex, head[i] == SIPGrammar.slash else { return false }
        i = SIPGrammar.skipWhitespace(head, from: i + 1)
        return true
    }

    /// Parses `sent-protocol LWS sent-by *( SEMI via-params )`, allowing white space around `/`,
    /// `:` and `;` (RFC 3261 §25.1 SLASH, COLON, SEMI).
    static func parse<B: SIPByteSlice>(_ bytes: B, materialize: Bool = true) -> SIPVia? {
        let paramStart = bytes.firstIndex(of: SIPGrammar.semicolon) ?? bytes.endIndex
        let head = bytes[bytes.startIndex..<paramStart]
        var i = SIPGrammar.skipWhitespace(head, from: head.startIndex)

        guard let name = Self.token(head, &i), Self.slash(head, &i), let version = Self.token(head, &i),
            Self.slash(head, &i), let transport = Self.token(head, &i)
        else { return nil }
        let afterTransport = i
        i = SIPGrammar.skipWhitespace(head, from: i)
        guard i > afterTransport, i < head.endIndex else { return nil }
        let hostStart = i
        if head[i] == SIPGrammar.openBracket {
            guard let close = head[i...].firstIndex(of: SIPGrammar.closeBracket), close > i + 1 else { return nil }
            guard head[(i + 1)..<close].allSatisfy({ SIPGrammar.isHexDigit($0) || $0 == SIPGrammar.colon || $0 == 0x2E })
            else { return nil }
            i = close + 1
        } else {
            while i < head.endIndex,
                SIPGrammar.isAlpha(head[i]) || SIPGrammar.isDigit(head[i]) || head[i] == 0x2D || head[i] == 0x2E || head[i] == 0x5F
            {
                i += 1
            }
        }
        guard i > hostStart else { return nil }
        let host = head[hostStart..<i]
        var port: Int?
        i = SIPGrammar.skipWhitespace(head, from: i)
        if i < head.endIndex && head[i] == SIPGrammar.colon {
            i = SIPGrammar.skipWhitespace(head, from: i + 1)
            let start = i
            while i < head.endIndex && SIPGrammar.isDigit(head[i]) { i += 1 }
            guard let value = SIPGrammar.parseInt(head[start..<i], max: 65535) else { return nil }
            port = value
            i = SIPGrammar.skipWhitespace(head, from: i)
        }
        guard i == head.endIndex else { return nil }
        guard let parameters = SIPParameters.parse(bytes[paramStart...], materialize: materialize) else { return nil }
        if !materialize { return SIPVia(parsedTransport: "", host: "") }
        var via = SIPVia(
            transport: SIPGrammar.string(transport), host: SIPGrammar.string(host), port: port,
            parameters: parameters, protocolName: SIPGrammar.string(name), protocolVersion: SIPGrammar.string(version))
        via.parameters = parameters
        return via
    }
}
