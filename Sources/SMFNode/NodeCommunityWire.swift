import Community
import Foundation
import Overlay
import SIPSyntax

/// A resource that belongs to a community at some node: `sip:membership.<id12>@host:port` for the community
/// (its `smf-membership` events), `sip:membership.<id12>.<sub>@host:port` for a sub-community (its events, and
/// the address sub-community requests such as join requests are sent to).
///
/// `<id12>` is the first 12 hex digits of the community ID (``CommunityID/shortDescription``). The user part names
/// the resource in the Request-URI of out-of-dialog requests and in To (requests the subscriber sends) or From
/// (NOTIFYs the notifier sends) of in-dialog ones, so the node can tell which community a request is of without
/// reading its body (docs/community.md "In the running node").
struct CommunityResource: Hashable, Sendable, CustomStringConvertible {
    static let prefix = "membership."

    /// The first 12 hex digits of the community ID.
    var communityShortID: String
    /// The sub-community, or nil for the community itself.
    var subCommunity: String?

    init(communityShortID: String, subCommunity: String?) {
        self.communityShortID = communityShortID.lowercased()
        self.subCommunity = subCommunity
    }

    init(community: CommunityID, subCommunity: String?) {
        self.init(communityShortID: community.shortDescription, subCommunity: subCommunity)
    }

    /// Reads a user part; nil when it is not a community resource.
    init?(user: String) {
        guard let decoded = percentDecodedUser(user), decoded.hasPrefix(Self.prefix) else { return nil }
        let rest = decoded.dropFirst(Self.prefix.count)
        let id = rest.prefix(12)
        guard id.count == 12, id.allSatisfy(\.isHexDigit) else { return nil }
        let tail = rest.dropFirst(12)
        if tail.isEmpty {
            self.init(communityShortID: String(id), subCommunity: nil)
        } else {
            guard tail.first == ".", tail.count > 1 else { return nil }
            self.init(communityShortID: String(id), subCommunity: String(tail.dropFirst()))
        }
    }

    /// The user part, e.g. `membership.3f2a9c01b2d4.surveillance/north`; characters outside RFC 3261's user
    /// characters are percent-encoded.
    var user: String {
        Self.prefix + communityShortID + (subCommunity.map { "." + percentEncodedUser($0) } ?? "")
    }

    /// This resource at `host:port`.
    func uri(host: String, port: Int?) -> SIPURI {
        SIPURI(user: user, host: host, port: port)
    }

    /// The community resource a request is about: its Request-URI, else its To, else its From.
    static func of(_ request: SIPRequest) -> CommunityResource? {
        if let user = request.uri.user, let resource = CommunityResource(user: user) { return resource }
        if let user = request.headers.to?.uri.user, let resource = CommunityResource(user: user) { return resource }
        if let user = request.headers.from?.uri.user, let resource = CommunityResource(user: user) { return resource }
        return nil
    }

    var description: String { user }
}

/// What the node's gate asserts about a request it verified, for the parts behind it (the event packages, the
/// service runtime): `SMF-Asserted-Member: <node-id>;community=<64 hex>;subs=<name>,<name>`.
///
/// Like P-Asserted-Identity inside a trust domain (RFC 3325 §9.1), it is only ever believed because the node's
/// own router removes it from every request that arrives and adds it after the request's proof verified.
struct CommunityAssertion: Hashable, Sendable {
    static let header = "SMF-Asserted-Member"

    /// The member's Node-ID, 40 hex digits.
    var member: String
    var community: CommunityID
    var subCommunities: [String]

    var value: String {
        "\(member);community=\(community);subs=\(subCommunities.map(percentEncodedUser).joined(separator: ","))"
    }

    init(member: NodeID, community: CommunityID, subCommunities: [String]) {
        self.member = member.description
        self.community = community
        self.subCommunities = subCommunities
    }

    /// Reads the header value; nil when it is not one the gate wrote.
    init?(value: String) {
        let parts = value.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3, parts[0].count == 40, parts[0].allSatisfy(\.isHexDigit),
            parts[1].hasPrefix("community="), let community = CommunityID(hex: parts[1].dropFirst("community=".count)),
            parts[2].hasPrefix("subs=")
        else { return nil }
        member = parts[0].lowercased()
        self.community = community
        subCommunities = parts[2].dropFirst("subs=".count).split(separator: ",").compactMap { percentDecodedUser(String($0)) }
    }

    /// The assertion the gate added to `request`, if any.
    static func of(_ request: SIPRequest) -> CommunityAssertion? {
        request.headers[header].flatMap(CommunityAssertion.init(value:))
    }
}

/// What a member announces about itself in its community's ring (`community:<id>/members`, one record per
/// member, signed by it): its credential, where its node is reached and what it offers; `left` once it left.
struct MemberAnnouncement: Codable, Hashable, Sendable {
    var credential: String
    var contact: String
    var services: [String]
    var left: Bool

    static func resourceName(community: CommunityID) -> String { "community:\(community)/members" }
}

/// Overlay resource names of a community's sub-communities (all records of kind `membership`, in the
/// community's own ring).
enum SubCommunityRecords {
    /// The names of the sub-communities a member created, one per line (one record per creator).
    static func index(community: CommunityID) -> String { "community:\(community)/subcommunities" }
    /// The charter, stored by its creator.
    static func charter(community: CommunityID, name: String) -> String { "community:\(community)/sub/\(name)" }
    /// Each member's own sub-community certificate (one record per member).
    static func members(community: CommunityID, name: String) -> String { "community:\(community)/sub/\(name)/members" }
    /// The removals and leaves a member signed (one record per signer, a list of statements).
    static func statements(community: CommunityID, name: String) -> String { "community:\(community)/sub/\(name)/statements" }

    /// A list of encoded objects: 2-byte big-endian length, then the bytes, repeated.
    static func encodeList(_ items: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for item in items where item.count <= Int(UInt16.max) {
            bytes.append(UInt8(item.count >> 8))
            bytes.append(UInt8(item.count & 0xff))
            bytes += item
        }
        return bytes
    }

    /// Reverses ``encodeList(_:)``; nil for a truncated list.
    static func decodeList(_ bytes: [UInt8]) -> [[UInt8]]? {
        var items: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 2 else { return nil }
            let count = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            offset += 2
            guard bytes.count - offset >= count else { return nil }
            items.append(Array(bytes[offset..<offset + count]))
            offset += count
        }
        return items
    }
}

/// Bodies of the community's own requests.
enum CommunityBodies {
    /// A join request (`JoinRequest.text`), sent in a REGISTER to the admitting peer; the `200` carries
    /// ``credentialType``.
    static let joinType = "application/smf-join"
    /// The joiner's new credential (`MembershipCredential.text`) in the `200` to a join.
    static let credentialType = "application/smf-credential"
    /// A sub-community message in a MESSAGE: one line `<verb> <URL-safe base64>`, verbs `join-request`,
    /// `certificate`, `removal`, `leave`.
    static let subCommunityType = "application/smf-subcommunity"
    /// A revocation (URL-safe base64 of `Revocation.encoded`) the revoker sends to every member it knows, in a
    /// MESSAGE to their community resource, so they need not wait for the ring.
    static let revocationType = "application/smf-revocation"

    enum SubVerb: String, Sendable, CaseIterable {
        case joinRequest = "join-request"
        case certificate
        case removal
        case leave
    }

    static func subMessage(_ verb: SubVerb, _ bytes: [UInt8]) -> String { "\(verb.rawValue) \(base64URL(bytes))" }

    static func parseSubMessage(_ text: String) -> (SubVerb, [UInt8])? {
        let words = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard words.count == 2, let verb = SubVerb(rawValue: String(words[0])), let bytes = fromBase64URL(String(words[1])) else { return nil }
        return (verb, bytes)
    }
}

/// URL-safe base64 without padding (RFC 4648 §5).
func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// Reverses ``base64URL(_:)``; nil for anything else.
func fromBase64URL(_ text: String) -> [UInt8]? {
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    guard !standard.contains("=") else { return nil }
    while standard.count % 4 != 0 { standard += "=" }
    return Data(base64Encoded: standard).map { [UInt8]($0) }
}

/// Characters a SIP user part may carry unescaped (RFC 3261 §25.1: unreserved and user-unreserved, minus `;`,
/// `,`, `?` and `=`, which would be ambiguous in the places the node writes names).
private let userSafe: Set<UInt8> = Set(Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&+$/".utf8))

func percentEncodedUser(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        if userSafe.contains(byte) {
            out.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return out
}

func percentDecodedUser(_ text: String) -> String? {
    guard text.contains("%") else { return text }
    var bytes: [UInt8] = []
    var rest = Substring(text)
    while let percent = rest.firstIndex(of: "%") {
        bytes += Array(rest[..<percent].utf8)
        let escape = rest[rest.index(after: percent)...].prefix(2)
        guard escape.count == 2, let byte = UInt8(escape, radix: 16) else { return nil }
        bytes.append(byte)
        rest = rest[rest.index(percent, offsetBy: 3)...]
    }
    bytes += Array(rest.utf8)
    return String(validating: bytes, as: UTF8.self)
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
