/// One header field as it appeared on the wire (RFC 3261 §7.3).
///
/// `name` keeps the spelling that was received (or given); matching is done on
/// ``canonicalName``, the lower-cased long form (so `v`, `Via` and `VIA` all match `via`).
public struct SIPHeaderField: Hashable, Sendable {
    public var name: String {
        didSet { canonicalName = SIPHeaders.canonicalName(name) }
    }
    public var value: String
    public private(set) var canonicalName: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
        self.canonicalName = SIPHeaders.canonicalName(name)
    }

    /// Used by the parser, which already knows the canonical name.
    init(name: String, value: String, canonicalName: String) {
        self.name = name
        self.value = value
        self.canonicalName = canonicalName
    }
}

/// The ordered header fields of a SIP message (RFC 3261 §7.3).
///
/// Order is kept exactly, including the relative order of fields with the same name, which
/// matters for `Via`, `Route` and `Record-Route` (§7.3.1). Lookups are case-insensitive and treat
/// compact forms (§7.3.3) as their long names.
public struct SIPHeaders: Hashable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [SIPHeaderField]

    public init() { fields = [] }
    public init(_ fields: [SIPHeaderField]) { self.fields = fields }
    public init(_ pairs: [(String, String)]) { fields = pairs.map { SIPHeaderField(name: $0.0, value: $0.1) } }

    /// Appends a field that the parser built.
    mutating func append(_ field: SIPHeaderField) { fields.append(field) }

    mutating func reserveCapacity(_ n: Int) { fields.reserveCapacity(n) }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    public var startIndex: Int { fields.startIndex }
    public var endIndex: Int { fields.endIndex }
    public subscript(position: Int) -> SIPHeaderField { fields[position] }

    /// The first value of the named header, if present.
    public subscript(name: String) -> String? {
        let key = Self.canonicalName(name)
        return fields.first(where: { $0.canonicalName == key })?.value
    }

    /// Every field value of the named header, in order (one entry per header line; see
    /// ``SIPHeaderValueSplitter`` to split comma-separated lists).
    public func values(_ name: String) -> [String] {
        let key = Self.canonicalName(name)
        return fields.compactMap { $0.canonicalName == key ? $0.value : nil }
    }

    public func contains(_ name: String) -> Bool {
        let key = Self.canonicalName(name)
        return fields.contains(where: { $0.canonicalName == key })
    }

    /// Appends a field after all existing ones.
    public mutating func add(name: String, value: String) {
        fields.append(SIPHeaderField(name: name, value: value))
    }

    /// Inserts a field before all others of any name (used for a new top `Via`, §16.6 step 8).
    public mutating func prepend(name: String, value: String) {
        fields.insert(SIPHeaderField(name: name, value: value), at: 0)
    }

    /// Replaces every field of that name by one field with `value`, at the position of the first.
    public mutating func replaceOrAdd(name: String, value: String) {
        let key = Self.canonicalName(name)
        if let first = fields.firstIndex(where: { $0.canonicalName == key }) {
            fields[first].value = value
            var index = fields.index(after: first)
            while index < fields.endIndex {
                if fields[index].canonicalName == key { fields.remove(at: index) } else { index += 1 }
            }
        } else {
            add(name: name, value: value)
        }
    }

    public mutating func remove(_ name: String) {
        let key = Self.canonicalName(name)
        fields.removeAll(where: { $0.canonicalName == key })
    }

    /// Removes only the first field of that name (e.g. the top `Via` of a response, §18.1.2).
    public mutating func removeFirst(_ name: String) {
        let key = Self.canonicalName(name)
        if let first = fields.firstIndex(where: { $0.canonicalName == key }) { fields.remove(at: first) }
    }

    public mutating func setField(at index: Int, _ field: SIPHeaderField) { fields[index] = field }

    /// Lower-cased long form of a header name, expanding compact forms (RFC 3261 §7.3.3, and the
    /// registered compact forms of RFC 3265, 3515, 3841, 3892, 4028, 4474).
    public static func canonicalName(_ name: String) -> String {
        let lower = name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
        if lower.utf8.count == 1 {
            switch lower {
            case "i": return "call-id"
            case "m": return "contact"
            case "e": return "content-encoding"
            case "l": return "content-length"
            case "c": return "content-type"
            case "f": return "from"
            case "s": return "subject"
            case "k": return "supported"
            case "t": return "to"
            case "v": return "via"
            case "o": return "event"
            case "u": return "allow-events"
            case "r": return "refer-to"
            case "b": return "referred-by"
            case "x": return "session-expires"
            case "a": return "accept-contact"
            case "j": return "reject-contact"
            case "d": return "request-disposition"
            case "y": return "identity"
            case "n": return "identity-info"
            default: return lower
            }
        }
        return lower
    }
}
