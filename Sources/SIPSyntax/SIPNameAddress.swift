/// A `name-addr` or `addr-spec` with header parameters, as used by From, To, Contact, Route,
/// Record-Route and Reply-To (RFC 3261 §20.10, §20.20, §20.39, §20.34, §25.1).
///
/// The display name is stored without quotes and escapes; it is always written quoted, and the URI
/// is always written in angle brackets, so any parameters after it are header parameters.
public struct SIPNameAddress: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The display name, unquoted (`nil` when absent).
    public var displayName: String?
    public var uri: SIPURI
    /// Header parameters after the address (`;tag=...;expires=...`).
    public var parameters: SIPParameters

    public init(displayName: String? = nil, uri: SIPURI, parameters: SIPParameters = SIPParameters()) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    /// Parses one name-addr or addr-spec with its parameters; `nil` when malformed.
    public init?(_ value: String) {
        guard let address = Self.parse(Array(value.utf8)[...]) else { return nil }
        self = address
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    public var tag: String? {
        get { parameters.value("tag") }
        set {
            if let newValue { parameters.set("tag", newValue) } else { parameters.remove("tag") }
        }
    }

    /// The `expires` Contact parameter, in seconds (RFC 3261 §20.10).
    public var expires: Int? { parameters.value("expires").flatMap { SIPGrammar.parseInt($0.utf8) } }

    /// `"Display Name" <uri>;params`, or `<uri>;params` without a display name.
    public var description: String {
        var out = ""
        if let displayName {
            out += SIPGrammar.quoted(displayName)
            out += " "
        }
        out += "<"
        out += uri.description
        out += ">"
        out += parameters.description
        return out
    }

    // MARK: - Parsing

    static func parse<B: SIPByteSlice>(_ input: B, materialize: Bool = true) -> SIPNameAddress? {
        let bytes = SIPGrammar.trimmed(input)
        guard let first = bytes.first else { return nil }
        var displayName: String?
        var uriBytes: B
        var rest: B
        if first == SIPGrammar.quote {
            guard let close = SIPGrammar.closingQuote(bytes, openingAt: bytes.startIndex) else { return nil }
            if materialize { displayName = SIPGrammar.unquoted(SIPGrammar.string(bytes[bytes.startIndex...close])) }
            let open = SIPGrammar.skipWhitespace(bytes, from: close + 1)
            guard open < bytes.endIndex, bytes[open] == SIPGrammar.lessThan else { return nil }
            guard let end = bytes[open...].firstIndex(of: SIPGrammar.greaterThan) else { return nil }
            uriBytes = bytes[(open + 1)..<end]
            rest = bytes[(end + 1)...]
        } else if let open = bytes.firstIndex(of: SIPGrammar.lessThan) {
            let name = SIPGrammar.trimmed(bytes[bytes.startIndex..<open])
            if !name.isEmpty {
                // *(token LWS): tokens separated by white space.
                guard name.allSatisfy({ SIPGrammar.isTokenChar($0) || SIPGrammar.isWhitespace($0) }) else { return nil }
                if materialize { displayName = SIPGrammar.string(name) }
            }
            guard let end = bytes[open...].firstIndex(of: SIPGrammar.greaterThan) else { return nil }
            uriBytes = bytes[(open + 1)..<end]
            rest = bytes[(end + 1)...]
        } else {
            // addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10).
            let end = bytes.firstIndex(of: SIPGrammar.semicolon) ?? bytes.endIndex
            uriBytes = SIPGrammar.trimmed(bytes[bytes.startIndex..<end])
            rest = bytes[end...]
            guard !uriBytes.contains(where: { $0 == SIPGrammar.comma || $0 == SIPGrammar.question }) else { return nil }
        }
        // Inside angle brackets no white space is allowed around the URI (RFC 4475 §3.1.2.14).
        guard let uri = try? SIPURI.parse(uriBytes, materialize: materialize) else { return nil }
        guard let parameters = SIPParameters.parse(rest, materialize: materialize) else { return nil }
        return SIPNameAddress(displayName: displayName, uri: uri, parameters: parameters)
    }
}
