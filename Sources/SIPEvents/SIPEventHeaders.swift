public import SIPSyntax

/// The `Event` header: an event package name and an optional `id` (RFC 6665 §8.2.1).
///
/// Two Event headers match when the package names are equal and the `id` parameters are equal
/// (both absent counts as equal) (RFC 6665 §8.2.1).
public struct SIPEventHeader: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The event package, e.g. `presence` or `m2m-alarm` (template packages keep their dots,
    /// `presence.winfo`).
    public var package: String
    /// The `id` parameter that tells apart several subscriptions in one dialog.
    public var id: String?

    public init(package: String, id: String? = nil) {
        self.package = package
        self.id = id
    }

    /// Parses `event-type *(;event-param)`; `nil` when malformed.
    public init?(_ value: String) {
        guard let (type, parameters) = SIPEventHeaderGrammar.parse(value), !type.isEmpty else { return nil }
        package = type
        id = parameters.value("id")
    }

    /// `presence;id=abc`.
    public var description: String { id.map { "\(package);id=\($0)" } ?? package }
}

/// Why a subscription ended, as carried in `Subscription-State: terminated;reason=…`
/// (RFC 6665 §4.1.3, §8.2.4).
public enum SIPSubscriptionTerminationReason: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The subscription was ended; the subscriber should retry at once (new subscription).
    case deactivated
    /// The subscription was ended; retry later (after `retry-after` when given).
    case probation
    /// Authorization was refused; do not retry.
    case rejected
    /// The subscription expired (or was a fetch/unsubscribe); a new one may be made at once.
    case timeout
    /// The notifier could not get authorization in time; retry later.
    case giveup
    /// The resource no longer exists; do not retry.
    case noresource
    /// The resource state will never change; do not retry.
    case invariant
    /// Any other reason token.
    case other(String)

    public init(_ token: String) {
        switch token.lowercased() {
        case "deactivated": self = .deactivated
        case "probation": self = .probation
        case "rejected": self = .rejected
        case "timeout": self = .timeout
        case "giveup": self = .giveup
        case "noresource": self = .noresource
        case "invariant": self = .invariant
        default: self = .other(token)
        }
    }

    public var description: String {
        switch self {
        case .deactivated: "deactivated"
        case .probation: "probation"
        case .rejected: "rejected"
        case .timeout: "timeout"
        case .giveup: "giveup"
        case .noresource: "noresource"
        case .invariant: "invariant"
        case .other(let token): token
        }
    }

    /// Whether the subscriber may try again with a new subscription (RFC 6665 §4.1.3).
    public var allowsRetry: Bool {
        switch self {
        case .deactivated, .probation, .timeout, .giveup, .other: true
        case .rejected, .noresource, .invariant: false
        }
    }

    /// Whether the retry should wait (for `retry-after`, or a default) rather than go at once
    /// (RFC 6665 §4.1.3: probation and giveup).
    public var retriesLater: Bool {
        switch self {
        case .probation, .giveup: true
        default: false
        }
    }
}

/// The `Subscription-State` header (RFC 6665 §8.2.4, §4.1.3).
public struct SIPSubscriptionState: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The substate value.
    public enum Value: Hashable, Sendable, Codable, CustomStringConvertible {
        case active
        case pending
        case terminated
        /// An extension substate; RFC 6665 §4.1.3 says to treat it as `pending`.
        case other(String)

        public init(_ token: String) {
            switch token.lowercased() {
            case "active": self = .active
            case "pending": self = .pending
            case "terminated": self = .terminated
            default: self = .other(token)
            }
        }

        public var description: String {
            switch self {
            case .active: "active"
            case .pending: "pending"
            case .terminated: "terminated"
            case .other(let token): token
            }
        }
    }

    public var value: Value
    /// Seconds left until the subscription expires (active/pending).
    public var expires: Int?
    /// Why it ended (terminated).
    public var reason: SIPSubscriptionTerminationReason?
    /// Seconds to wait before subscribing again (terminated).
    public var retryAfter: Int?

    public init(_ value: Value, expires: Int? = nil, reason: SIPSubscriptionTerminationReason? = nil, retryAfter: Int? = nil) {
        self.value = value
        self.expires = expires
        self.reason = reason
        self.retryAfter = retryAfter
    }

    /// Parses `substate-value *(;subexp-params)`; `nil` when malformed (e.g. an `expires` that
    /// is not a number).
    public init?(_ text: String) {
        guard let (token, parameters) = SIPEventHeaderGrammar.parse(text), !token.isEmpty else { return nil }
        value = Value(token)
        expires = nil
        retryAfter = nil
        reason = parameters.value("reason").map(SIPSubscriptionTerminationReason.init)
        if let text = parameters.value("expires") {
            guard let number = SIPEventHeaderGrammar.seconds(text) else { return nil }
            expires = number
        }
        if let text = parameters.value("retry-after") {
            guard let number = SIPEventHeaderGrammar.seconds(text) else { return nil }
            retryAfter = number
        }
    }

    /// `active;expires=600`, `terminated;reason=probation;retry-after=30`.
    public var description: String {
        var out = value.description
        if let reason { out += ";reason=\(reason)" }
        if let expires { out += ";expires=\(expires)" }
        if let retryAfter { out += ";retry-after=\(retryAfter)" }
        return out
    }
}

/// Typed accessors for the headers of RFC 6665 and RFC 3903.
extension SIPHeaders {
    /// `Event` / `o` (RFC 6665 §8.2.1); `nil` when absent or malformed.
    public var event: SIPEventHeader? {
        get { self["Event"].flatMap(SIPEventHeader.init) }
        set { setOrRemoveEventHeader("Event", newValue?.description) }
    }

    /// `Subscription-State` (RFC 6665 §8.2.4); `nil` when absent or malformed.
    public var subscriptionState: SIPSubscriptionState? {
        get { self["Subscription-State"].flatMap(SIPSubscriptionState.init) }
        set { setOrRemoveEventHeader("Subscription-State", newValue?.description) }
    }

    /// The packages of every `Allow-Events` / `u` line (RFC 6665 §8.2.2).
    public var allowEvents: [String] {
        get { splitValues("Allow-Events") }
        set { setOrRemoveEventHeader("Allow-Events", newValue.isEmpty ? nil : newValue.joined(separator: ", ")) }
    }

    /// `SIP-ETag`, the entity tag an ESC assigned (RFC 3903 §11.3.1).
    public var sipETag: String? {
        get { self["SIP-ETag"].flatMap(SIPEventHeaderGrammar.token) }
        set { setOrRemoveEventHeader("SIP-ETag", newValue) }
    }

    /// `SIP-If-Match`, the entity tag a PUBLISH refers to (RFC 3903 §11.3.2).
    public var sipIfMatch: String? {
        get { self["SIP-If-Match"].flatMap(SIPEventHeaderGrammar.token) }
        set { setOrRemoveEventHeader("SIP-If-Match", newValue) }
    }

    /// `Min-Expires` in seconds (RFC 3261 §20.23); `nil` when absent or not a number.
    public var minExpires: Int? {
        get { self["Min-Expires"].flatMap(SIPEventHeaderGrammar.seconds) }
        set { setOrRemoveEventHeader("Min-Expires", newValue.map(String.init)) }
    }

    /// Whether an `Expires` header is present but is not a number of seconds (a 400 case).
    public var hasMalformedExpires: Bool { contains("Expires") && expires == nil }

    private mutating func setOrRemoveEventHeader(_ name: String, _ value: String?) {
        if let value { replaceOrAdd(name: name, value: value) } else { remove(name) }
    }
}

/// The small grammar these headers share: `token *(SEMI name[=value])` (RFC 3261 §25.1).
enum SIPEventHeaderGrammar {
    /// Splits `token;a=b;c` into the trimmed token and its parameters; `nil` when a part is
    /// malformed (empty name, bad token, unterminated quote).
    static func parse(_ text: String) -> (String, SIPParameters)? {
        var parts: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        var inQuote = false
        var escaped = false
        while index < text.endIndex {
            let c = text[index]
            if escaped {
                escaped = false
            } else if inQuote && c == "\\" {
                escaped = true
            } else if c == "\"" {
                inQuote.toggle()
            } else if c == ";" && !inQuote {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        guard !inQuote else { return nil }
        parts.append(text[start..<text.endIndex])
        guard let head = parts.first.map(trim), head.isEmpty || isToken(head) else { return nil }
        var pairs: [(String, String?)] = []
        for part in parts.dropFirst() {
            if let eq = part.firstIndex(of: "=") {
                let name = trim(part[part.startIndex..<eq])
                let value = trim(part[part.index(after: eq)...])
                guard isToken(name), !value.isEmpty else { return nil }
                pairs.append((name, value))
            } else {
                let name = trim(part)
                guard isToken(name) else { return nil }
                pairs.append((name, nil))
            }
        }
        return (head, SIPParameters(pairs))
    }

    /// A non-negative number of seconds (`delta-seconds`, RFC 3261 §25.1) up to 2^32-1; `nil`
    /// otherwise.
    static func seconds(_ text: String) -> Int? {
        let trimmed = trim(text[...])
        guard !trimmed.isEmpty, trimmed.utf8.count <= 10, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let number = Int(trimmed), number <= Int(UInt32.max)
        else { return nil }
        return number
    }

    /// The trimmed value when it is a single token; `nil` otherwise.
    static func token(_ text: String) -> String? {
        let trimmed = trim(text[...])
        return isToken(trimmed) ? trimmed : nil
    }

    static func trim(_ text: Substring) -> String {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }

    /// RFC 3261 §25.1 `token`.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || "-.!%*_+`'~".utf8.contains(byte)
            }
    }
}
