/// A SIP transport protocol this node speaks (RFC 3261 §18).
public enum SIPTransportProtocol: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case udp
    case tcp

    /// The transport token used in a `Via` header (RFC 3261 §20.42), e.g. `UDP`.
    public var viaToken: String { rawValue.uppercased() }

    /// Whether the transport is reliable; reliable transports carry no retransmissions (RFC 3261 §17.1.1.2).
    public var isReliable: Bool { self == .tcp }

    public var description: String { rawValue }

    /// Parses a transport name case-insensitively (`udp`, `UDP`, `tcp`), as found in CLI input, a URI
    /// `transport=` parameter or a `Via` header.
    public init?(token: String) {
        switch token.lowercased() {
        case "udp": self = .udp
        case "tcp": self = .tcp
        default: return nil
        }
    }
}

/// A local address to listen on, written `udp:127.0.0.1:5060` or `tcp:[::1]:0` (port 0 = ephemeral).
public struct SIPListenAddress: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    public var transport: SIPTransportProtocol
    /// A literal IP address, IPv6 without brackets (`::1`).
    public var host: String
    public var port: Int

    public init(transport: SIPTransportProtocol, host: String, port: Int) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    /// Parses `transport:host:port`, with IPv6 hosts in brackets (`udp:[::1]:5060`).
    public init(parsing text: String) throws(SIPAddressError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw SIPAddressError(input: text, problem: "expected transport:host:port, e.g. udp:127.0.0.1:5060")
        }
        let transportText = String(text[..<colon])
        guard let transport = SIPTransportProtocol(token: transportText) else {
            throw SIPAddressError(input: text, problem: "unknown transport '\(transportText)' (use udp or tcp)")
        }
        let (host, port) = try SIPListenAddress.splitHostPort(String(text[text.index(after: colon)...]), original: text)
        self.init(transport: transport, host: host, port: port)
    }

    public init?(_ description: String) {
        guard let parsed = try? SIPListenAddress(parsing: description) else { return nil }
        self = parsed
    }

    /// The host as it appears in a URI or `Via` sent-by: IPv6 in brackets (RFC 3261 §25.1).
    public var hostForURI: String { host.contains(":") ? "[\(host)]" : host }

    public var description: String { "\(transport.rawValue):\(hostForURI):\(port)" }

    /// Splits `host:port` / `[v6]:port` and checks that the host is a literal IP and the port in 0...65535.
    static func splitHostPort(_ text: String, original: String) throws(SIPAddressError) -> (String, Int) {
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw SIPAddressError(input: original, problem: "IPv6 address is missing its closing ']'")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw SIPAddressError(input: original, problem: "expected ':port' after the IPv6 address")
            }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw SIPAddressError(input: original, problem: "missing ':port'")
            }
            host = String(text[..<colon])
            if host.contains(":") {
                throw SIPAddressError(input: original, problem: "IPv6 addresses must be written in brackets, e.g. udp:[::1]:5060")
            }
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw SIPAddressError(input: original, problem: "missing host") }
        guard IPAddressSyntax.isIPv4(host) || IPAddressSyntax.isIPv6(host) else {
            throw SIPAddressError(input: original, problem: "host '\(host)' is not a literal IPv4 or IPv6 address")
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw SIPAddressError(input: original, problem: "port '\(portText)' is not a number in 0...65535")
        }
        return (host, port)
    }
}

/// Where to send a request: transport, host (IP literal or name) and port (RFC 3263 reduced to literals).
public struct SIPDestination: Hashable, Sendable, CustomStringConvertible {
    public var transport: SIPTransportProtocol
    /// IP literal (IPv6 without brackets) or a host name resolved by the system resolver.
    public var host: String
    public var port: Int

    public init(transport: SIPTransportProtocol, host: String, port: Int) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    /// Parses the same `transport:host:port` form as ``SIPListenAddress``.
    public init(parsing text: String) throws(SIPAddressError) {
        let address = try SIPListenAddress(parsing: text)
        self.init(transport: address.transport, host: address.host, port: address.port)
    }

    public var description: String {
        "\(transport.rawValue):\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

/// Input that does not name a usable address, with what is wrong with it.
public struct SIPAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    public var input: String
    public var problem: String

    public init(input: String, problem: String) {
        self.input = input
        self.problem = problem
    }

    public var description: String { "invalid address '\(input)': \(problem)" }
}

/// Cheap syntactic checks for IP literals (no resolver involved).
enum IPAddressSyntax {
    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && (Int(part) ?? 256) <= 255
        }
    }

    static func isIPv6(_ text: String) -> Bool {
        let address = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard address.count <= 45, address.filter({ $0 == ":" }).count >= 2 else { return false }
        return address.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
