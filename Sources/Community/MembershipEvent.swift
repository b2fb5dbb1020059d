public import Overlay

/// A change of membership, for the `smf-membership` event package (RFC 6665 §4.4) and for logs.
///
/// Plain-text form, one line of `key=value` pairs after the kind (values percent-encoded):
/// `joined community=<64 hex> member=<40 hex> role=member by=<40 hex> at=<ms>`, with optional
/// `sub=<name>` and `reason=<text>`. It is also `Codable` (JSON with the same field names).
public struct MembershipEvent: Hashable, Sendable, Codable, CustomStringConvertible {
    /// What happened.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// A node was admitted to the community or a sub-community.
        case joined
        /// A member left of its own accord.
        case left
        /// A member was revoked from the community.
        case revoked
        /// A member asked to join a sub-community with approval policy.
        case requested
        /// A sub-community owner invited a member (invite policy).
        case invited
        /// A sub-community owner approved a member.
        case approved
        /// A sub-community owner removed a member.
        case removed
    }

    /// What happened.
    public var kind: Kind
    /// The community.
    public var communityID: CommunityID
    /// The sub-community, or nil for the community itself.
    public var subCommunity: String?
    /// The member concerned.
    public var member: NodeID
    /// The member's role, when known.
    public var role: MemberRole?
    /// Who caused the change (the admitting, approving or revoking member), when not the member itself.
    public var by: NodeID?
    /// When it happened.
    public var at: OverlayInstant
    /// Free text (e.g. a revocation reason); empty when none.
    public var reason: String

    /// Creates an event.
    public init(
        kind: Kind, communityID: CommunityID, subCommunity: String? = nil, member: NodeID, role: MemberRole?,
        by: NodeID?, at: OverlayInstant, reason: String = ""
    ) {
        self.kind = kind
        self.communityID = communityID
        self.subCommunity = subCommunity
        self.member = member
        self.role = role
        self.by = by
        self.at = at
        self.reason = reason
    }

    /// The MIME type of ``text`` in a NOTIFY body.
    public static let contentType = "text/x-smf-membership"
    /// The event package name.
    public static let eventPackage = "smf-membership"

    /// The one-line text form.
    public var text: String {
        var line = "\(kind.rawValue) community=\(communityID) member=\(member)"
        if let subCommunity { line += " sub=\(percentEncoded(subCommunity))" }
        if let role { line += " role=\(role.rawValue)" }
        if let by { line += " by=\(by)" }
        line += " at=\(at.milliseconds)"
        if !reason.isEmpty { line += " reason=\(percentEncoded(reason))" }
        return line
    }

    public var description: String { text }

    /// Parses ``text``; names the field that is wrong.
    public init(text: String) throws(CommunityError) {
        let words = text.trimmingWhitespace().split(separator: " ")
        guard let first = words.first, let kind = Kind(rawValue: String(first)) else {
            throw CommunityError.malformed("membership event", "expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")) first")
        }
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else {
                throw CommunityError.malformed("membership event", "\"\(word)\" is not key=value")
            }
            guard let value = percentDecoded(word[word.index(after: equals)...]) else {
                throw CommunityError.malformed("membership event \(word[..<equals])", "bad percent-encoding")
            }
            fields[String(word[..<equals])] = value
        }
        func require(_ key: String) throws(CommunityError) -> String {
            guard let value = fields[key] else { throw CommunityError.malformed("membership event", "missing \(key)=") }
            return value
        }
        guard let community = CommunityID(hex: try require("community")) else {
            throw CommunityError.malformed("membership event community", "expected 64 hex digits")
        }
        guard let memberBytes = decodeHex(try require("member")), let member = NodeID(bytes: memberBytes) else {
            throw CommunityError.malformed("membership event member", "expected 40 hex digits")
        }
        guard let at = Int64(try require("at")) else {
            throw CommunityError.malformed("membership event at", "expected milliseconds")
        }
        var role: MemberRole?
        if let text = fields["role"] {
            guard let parsed = MemberRole(rawValue: text) else { throw CommunityError.malformed("membership event role", "unknown role \(text)") }
            role = parsed
        }
        var by: NodeID?
        if let text = fields["by"] {
            guard let raw = decodeHex(text), let parsed = NodeID(bytes: raw) else {
                throw CommunityError.malformed("membership event by", "expected 40 hex digits")
            }
            by = parsed
        }
        self.init(
            kind: kind, communityID: community, subCommunity: fields["sub"], member: member, role: role, by: by,
            at: OverlayInstant(milliseconds: at), reason: fields["reason"] ?? "")
    }

    private enum CodingKeys: String, CodingKey {
        case kind, community, sub, member, role, by, at, reason
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func nodeID(_ text: String, _ key: CodingKeys) throws -> NodeID {
            guard let raw = decodeHex(text), let id = NodeID(bytes: raw) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "expected 40 hex digits")
            }
            return id
        }
        kind = try container.decode(Kind.self, forKey: .kind)
        guard let community = CommunityID(hex: try container.decode(String.self, forKey: .community)) else {
            throw DecodingError.dataCorruptedError(forKey: .community, in: container, debugDescription: "expected 64 hex digits")
        }
        communityID = community
        subCommunity = try container.decodeIfPresent(String.self, forKey: .sub)
        member = try nodeID(try container.decode(String.self, forKey: .member), .member)
        role = try container.decodeIfPresent(MemberRole.self, forKey: .role)
        by = try container.decodeIfPresent(String.self, forKey: .by).map { try nodeID($0, .by) }
        at = OverlayInstant(milliseconds: try container.decode(Int64.self, forKey: .at))
        reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(communityID.description, forKey: .community)
        try container.encodeIfPresent(subCommunity, forKey: .sub)
        try container.encode(member.description, forKey: .member)
        try container.encodeIfPresent(role, forKey: .role)
        try container.encodeIfPresent(by?.description, forKey: .by)
        try container.encode(at.milliseconds, forKey: .at)
        if !reason.isEmpty { try container.encode(reason, forKey: .reason) }
    }
}

private func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E, 0x2F, 0x3A: true
    default: false
    }
}

/// Percent-encodes every byte but unreserved characters, `/` and `:`.
func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        if isUnreserved(byte) { out.unicodeScalars.append(Unicode.Scalar(byte)) } else { out += "%" + hexString([byte]).uppercased() }
    }
    return out
}

/// Reverses ``percentEncoded(_:)``; nil for a bad escape or invalid UTF-8.
func percentDecoded(_ text: some StringProtocol) -> String? {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
        if byte == 0x25 {
            guard let high = iterator.next(), let low = iterator.next(), let value = decodeHex(String(decoding: [high, low], as: UTF8.self)) else {
                return nil
            }
            bytes += value
        } else {
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}
