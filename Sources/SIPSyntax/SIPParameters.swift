/// An ordered list of `;name[=value]` parameters of a URI or header field (RFC 3261 §19.1.1,
/// §20, §25.1 `generic-param`).
///
/// Names compare case-insensitively for lookup and keep the spelling they were given. Values are
/// kept exactly as on the wire: a quoted-string value keeps its quotes (use ``unquotedValue(_:)``),
/// and URI parameter values keep their `%`-escapes. A parameter without `=` has a `nil` value
/// (e.g. `;lr`).
public struct SIPParameters: Hashable, Sendable, Sequence, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// One parameter.
    public struct Parameter: Hashable, Sendable {
        public var name: String
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    public typealias Element = (name: String, value: String?)

    /// The parameters in order.
    public private(set) var parameters: [Parameter]

    public init() { parameters = [] }

    public init(_ pairs: [(String, String?)]) {
        parameters = pairs.map { Parameter(name: $0.0, value: $0.1) }
    }

    public init(arrayLiteral elements: (String, String?)...) { self.init(elements) }

    public var count: Int { parameters.count }
    public var isEmpty: Bool { parameters.isEmpty }

    /// Iterates `(name, value)` pairs in order.
    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[Parameter]>

        public mutating func next() -> Element? {
            guard let next = base.next() else { return nil }
            return (name: next.name, value: next.value)
        }
    }

    public func makeIterator() -> Iterator { Iterator(base: parameters.makeIterator()) }

    /// Whether a parameter with this name (case-insensitive) is present, with or without a value.
    public func contains(_ name: String) -> Bool { index(of: name) != nil }

    /// The value of the first parameter with this name; `nil` when absent or when it has no value.
    public func value(_ name: String) -> String? {
        guard let i = index(of: name) else { return nil }
        return parameters[i].value
    }

    /// `.none` when absent, `.some(nil)` when present without a value, `.some(value)` otherwise.
    public subscript(_ name: String) -> String?? {
        guard let i = index(of: name) else { return .none }
        return .some(parameters[i].value)
    }

    /// The value with surrounding quotes and `\` escapes removed (for `quoted-string` values).
    public func unquotedValue(_ name: String) -> String? {
        value(name).map(SIPGrammar.unquoted)
    }

    /// Sets the first parameter of that name (keeping its position) or appends a new one.
    public mutating func set(_ name: String, _ value: String?) {
        if let i = index(of: name) {
            parameters[i].value = value
        } else {
            parameters.append(Parameter(name: name, value: value))
        }
    }

    /// Removes every parameter with that name.
    public mutating func remove(_ name: String) {
        parameters.removeAll { Self.namesMatch($0.name, name) }
    }

    /// Appends a parameter even if one of that name exists.
    public mutating func append(_ name: String, _ value: String?) {
        parameters.append(Parameter(name: name, value: value))
    }

    /// `;name=value;flag` — the wire form, empty when there are no parameters.
    public var description: String {
        var out = ""
        for parameter in parameters {
            out += ";"
            out += parameter.name
            if let value = parameter.value {
                out += "="
                out += value
            }
        }
        return out
    }

    func index(of name: String) -> Int? {
        parameters.firstIndex { Self.namesMatch($0.name, name) }
    }

    static func namesMatch(_ a: String, _ b: String) -> Bool {
        let ua = a.utf8, ub = b.utf8
        guard ua.count == ub.count else { return false }
        return zip(ua, ub).allSatisfy { x, y in x == y || (SIPGrammar.isAlpha(x) && (x | 0x20) == (y | 0x20)) }
    }

    /// Parses `;a=b;c` (the leading `;` is required for each parameter). White space around `;` and
    /// `=` is allowed (RFC 3261 §25.1 SEMI, EQUAL). Values may be quoted strings. Returns `nil` on
    /// a malformed list (empty name, name that is not a token, unterminated quote). With
    /// `materialize` false it only checks the syntax and returns an empty list.
    static func parse<B: SIPByteSlice>(
        _ bytes: B, allowQuotedValues: Bool = true, materialize: Bool = true
    ) -> SIPParameters? {
        var result = SIPParameters()
        var i = SIPGrammar.skipWhitespace(bytes, from: bytes.startIndex)
        while i < bytes.endIndex {
            guard bytes[i] == SIPGrammar.semicolon else { return nil }
            i += 1
            // Find the end of this parameter: the next ";" outside a quoted string.
            var end = i
            var equals: Int?
            while end < bytes.endIndex {
                let byte = bytes[end]
                if byte == SIPGrammar.semicolon { break }
                if byte == SIPGrammar.equals && equals == nil {
                    equals = end
                } else if byte == SIPGrammar.quote {
                    guard equals != nil, allowQuotedValues, let close = SIPGrammar.closingQuote(bytes, openingAt: end) else {
                        return nil
                    }
                    end = close
                }
                end += 1
            }
            let name: B
            var value: B?
            if let eq = equals {
                name = SIPGrammar.trimmed(bytes[i..<eq])
                let v = SIPGrammar.trimmed(bytes[(eq + 1)..<end])
                if v.first == SIPGrammar.quote {
                    guard let close = SIPGrammar.closingQuote(v, openingAt: v.startIndex), close == v.endIndex - 1 else {
                        return nil
                    }
                } else if v.contains(where: SIPGrammar.isWhitespace) || v.contains(SIPGrammar.quote) {
                    return nil
                }
                value = v
            } else {
                name = SIPGrammar.trimmed(bytes[i..<end])
            }
            guard isParameterName(name) else { return nil }
            if materialize {
                var valueString: String?
                if let value { valueString = SIPGrammar.string(value) }
                result.parameters.append(Parameter(name: SIPGrammar.string(name), value: valueString))
            }
            i = end
        }
        return result
    }

    /// Parameter names are tokens; URI parameter names may also carry `[`, `]`, `/`, `:`, `&`, `$`
    /// and escapes (`paramchar`, RFC 3261 §25.1), so anything printable except separators is taken.
    private static func isParameterName<B: SIPByteSlice>(_ name: B) -> Bool {
        !name.isEmpty && name.allSatisfy { SIPGrammar.isURIChar($0) && $0 != SIPGrammar.semicolon && $0 != SIPGrammar.equals && $0 != SIPGrammar.comma }
    }
}
