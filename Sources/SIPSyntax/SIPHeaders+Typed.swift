/// Typed views of the common header fields (RFC 3261 §20). They parse on each access, so a parsed
/// message pays only for the headers that are read.
extension SIPHeaders {
    /// The first value of the header whose canonical (lower-cased long) name is `canonical`.
    @inline(__always)
    func firstValue(canonical: String) -> String? {
        for field in fields where field.canonicalName == canonical { return field.value }
        return nil
    }

    /// The comma-separated list elements of a header across all its lines, in order
    /// (RFC 3261 §7.3.1). Commas inside quoted strings and `<...>` do not split. Only meaningful for
    /// headers whose grammar is a comma-separated list (not e.g. WWW-Authenticate or Date).
    public func splitValues(_ name: String) -> [String] {
        let key = Self.canonicalName(name)
        var result: [String] = []
        for field in fields where field.canonicalName == key {
            let bytes = Array(field.value.utf8)[...]
            let parts = SIPGrammar.split(bytes, separator: SIPGrammar.comma) ?? [bytes]
            for part in parts {
                let trimmed = SIPGrammar.trimmed(part)
                if !trimmed.isEmpty { result.append(SIPGrammar.string(trimmed)) }
            }
        }
        return result
    }

    /// Every via-parm, top first, split at commas across all Via lines (RFC 3261 §20.42). Values
    /// that do not parse are skipped; the parser rejects messages whose Via does not parse.
    public var vias: [SIPVia] {
        var result: [SIPVia] = []
        for field in fields where field.canonicalName == "via" {
            let bytes = Array(field.value.utf8)[...]
            for part in SIPGrammar.split(bytes, separator: SIPGrammar.comma) ?? [] {
                if let via = SIPVia.parse(part) { result.append(via) }
            }
        }
        return result
    }

    /// The first via-parm (the one that names the previous hop, RFC 3261 §18.2.2).
    public var topVia: SIPVia? {
        guard let value = firstValue(canonical: "via") else { return nil }
        let bytes = Array(value.utf8)[...]
        guard let first = SIPGrammar.split(bytes, separator: SIPGrammar.comma)?.first else { return nil }
        return SIPVia.parse(first)
    }

    /// Adds `via` above all other Via values (RFC 3261 §8.1.1.7, §16.6 step 8).
    public mutating func prependVia(_ via: SIPVia) {
        prepend(name: "Via", value: via.description)
    }

    /// Call-ID (RFC 3261 §20.8), trimmed.
    public var callID: String? {
        get { firstValue(canonical: "call-id").map { SIPGrammar.string(SIPGrammar.trimmed(Array($0.utf8)[...])) } }
        set { setOrRemove("Call-ID", newValue) }
    }

    /// CSeq (RFC 3261 §20.16); `nil` when absent or malformed.
    public var cseq: SIPCSeq? {
        get { firstValue(canonical: "cseq").flatMap { SIPCSeq.parse(Array($0.utf8)[...]) } }
        set { setOrRemove("CSeq", newValue?.description) }
    }

    /// From (RFC 3261 §20.20); `nil` when absent or malformed.
    public var from: SIPNameAddress? {
        get { firstValue(canonical: "from").flatMap { SIPNameAddress.parse(Array($0.utf8)[...]) } }
        set { setOrRemove("From", newValue?.description) }
    }

    /// To (RFC 3261 §20.39); `nil` when absent or malformed.
    public var to: SIPNameAddress? {
        get { firstValue(canonical: "to").flatMap { SIPNameAddress.parse(Array($0.utf8)[...]) } }
        set { setOrRemove("To", newValue?.description) }
    }

    /// Max-Forwards (RFC 3261 §20.22); `nil` when absent or not a number 0...255.
    public var maxForwards: Int? {
        get { firstValue(canonical: "max-forwards").flatMap { Self.integer($0, max: 255) } }
        set { setOrRemove("Max-Forwards", newValue.map(String.init)) }
    }

    /// Content-Length (RFC 3261 §20.14); `nil` when absent or not a non-negative number.
    public var contentLength: Int? {
        get { firstValue(canonical: "content-length").flatMap { Self.integer($0) } }
        set { setOrRemove("Content-Length", newValue.map(String.init)) }
    }

    /// Content-Type (RFC 3261 §20.15), trimmed, e.g. `application/pidf+xml`.
    public var contentType: String? {
        get { firstValue(canonical: "content-type").map { SIPGrammar.string(SIPGrammar.trimmed(Array($0.utf8)[...])) } }
        set { setOrRemove("Content-Type", newValue) }
    }

    /// Expires (RFC 3261 §20.19) in seconds; `nil` when absent or not a number.
    public var expires: Int? {
        get { firstValue(canonical: "expires").flatMap { Self.integer($0) } }
        set { setOrRemove("Expires", newValue.map(String.init)) }
    }

    /// Every Contact address across all Contact lines (RFC 3261 §20.10); empty for `Contact: *`.
    /// Values that do not parse are skipped.
    public var contacts: [SIPNameAddress] { addresses(canonical: "contact") }

    /// Whether the request carries `Contact: *` (remove all bindings, RFC 3261 §10.2.2).
    public var isContactWildcard: Bool {
        firstValue(canonical: "contact").map { SIPGrammar.trimmed(Array($0.utf8)[...]).elementsEqual("*".utf8) } ?? false
    }

    /// Every Route address, in order (RFC 3261 §20.34).
    public var routes: [SIPNameAddress] { addresses(canonical: "route") }

    /// Every Record-Route address, in order (RFC 3261 §20.30).
    public var recordRoutes: [SIPNameAddress] { addresses(canonical: "record-route") }

    private func addresses(canonical: String) -> [SIPNameAddress] {
        var result: [SIPNameAddress] = []
        for field in fields where field.canonicalName == canonical {
            let bytes = Array(field.value.utf8)[...]
            for part in SIPGrammar.split(bytes, separator: SIPGrammar.comma) ?? [] {
                if let address = SIPNameAddress.parse(part) { result.append(address) }
            }
        }
        return result
    }

    private mutating func setOrRemove(_ name: String, _ value: String?) {
        if let value { replaceOrAdd(name: name, value: value) } else { remove(name) }
    }

    static func integer(_ value: String, max: Int = Int.max) -> Int? {
        SIPGrammar.parseInt(SIPGrammar.trimmed(Array(value.utf8)[...]), max: max)
    }
}
