// Community and sub-community membership. See docs/community.md.
import Crypto
public import Overlay

/// A community's identifier: SHA-256 over a domain tag, the founding public key and the name.
///
/// Two communities with the same name but different founding keys have different IDs, so a name alone
/// never lets a stranger pass for a community.
public struct CommunityID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// Wraps 32 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Reads 64 hex digits; nil for anything else.
    public init?(hex: some StringProtocol) {
        guard let raw = decodeHex(hex) else { return nil }
        self.init(bytes: raw)
    }

    /// The ID of the community named `name` founded with `foundingPublicKey`.
    public init(foundingPublicKey: [UInt8], name: String) {
        var input = Array("smf-community-v1".utf8)
        var writer = WireWriter()
        writer.field(foundingPublicKey)
        writer.string(name)
        input += writer.bytes
        bytes = Array(SHA256.hash(data: input))
    }

    /// The 64 hex digits.
    public var description: String { hexString(bytes) }
    /// The first 12 hex digits, for messages and file names.
    public var shortDescription: String { String(description.prefix(12)) }

    public static func < (lhs: CommunityID, rhs: CommunityID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

/// A member's role. Owners and admins may admit members and revoke them; members may not.
public enum MemberRole: String, Hashable, Sendable, CaseIterable, Codable, Comparable {
    /// The founder and whoever the founder makes an owner.
    case owner
    /// May admit members and revoke them.
    case admin
    /// An ordinary member.
    case member

    /// Whether this role may admit members, issue invitations and sign revocations.
    public var mayAdmit: Bool { self != .member }

    var wireValue: UInt8 {
        switch self {
        case .owner: 1
        case .admin: 2
        case .member: 3
        }
    }

    init?(wireValue: UInt8) {
        switch wireValue {
        case 1: self = .owner
        case 2: self = .admin
        case 3: self = .member
        default: return nil
        }
    }

    /// Owner < admin < member: a lower value is more powerful.
    public static func < (lhs: MemberRole, rhs: MemberRole) -> Bool { lhs.wireValue < rhs.wireValue }
}

/// What every member holds about a community: its name and founding public key (seed 000 §IV).
///
/// This is all a verifier needs, with a ``RevocationSet``, to check any membership offline.
public struct Community: Hashable, Sendable, CustomStringConvertible {
    /// The community's name, e.g. `north-street`.
    public let name: String
    /// The founding public key (raw 32-byte Ed25519).
    public let foundingPublicKey: [UInt8]
    /// SHA-256 of the founding key and name.
    public let id: CommunityID

    /// A community from its name and founding public key; checks the name.
    public init(name: String, foundingPublicKey: [UInt8]) throws(CommunityError) {
        try Community.validate(name: name, what: "community")
        guard foundingPublicKey.count == 32 else {
            throw CommunityError.malformed("founding public key", "expected 32 bytes, found \(foundingPublicKey.count)")
        }
        self.name = name
        self.foundingPublicKey = foundingPublicKey
        id = CommunityID(foundingPublicKey: foundingPublicKey, name: name)
    }

    public var description: String { "\"\(name)\" (\(id.shortDescription))" }

    /// Default validity of a certificate issued on founding or admission: 365 days.
    public static let defaultValidity: Duration = .seconds(365 * 86_400)

    /// Creates a community: a new founding key, the community ID, and the founder's owner certificate.
    ///
    /// `smf community create NAME` calls this, then saves ``CommunityFounding/foundingKey`` with
    /// ``FoundingKey/save(to:)`` and the credential in the node's store.
    /// - Parameters:
    ///   - name: 1–64 characters, no `/`, no control characters.
    ///   - founder: The node's identity; its key becomes the owner's member key.
    ///   - now: The current time (the clock is passed in).
    ///   - validity: How long the founder's certificate lasts.
    public static func found(
        name: String, founder: NodeIdentity, now: OverlayInstant, validity: Duration = defaultValidity
    ) throws(CommunityError) -> CommunityFounding {
        let foundingKey = FoundingKey.generate()
        let community = try Community(name: name, foundingPublicKey: foundingKey.publicKey)
        let certificate = MemberCertificate.issue(
            community: community.id, subCommunity: nil, subject: founder.publicKey, role: .owner,
            issuedAt: now, expiry: now.advanced(by: validity), by: foundingKey)
        return CommunityFounding(
            community: community, foundingKey: foundingKey, founderCredential: MembershipCredential(certificates: [certificate]))
    }

    /// Checks a community or sub-community name segment.
    static func validate(name: String, what: String, allowSlash: Bool = false) throws(CommunityError) {
        let count = name.unicodeScalars.count
        guard count >= 1, count <= 64 else {
            throw CommunityError(.invalidName, "\(what) name \"\(name)\" must be 1 to 64 characters long, not \(count)")
        }
        for scalar in name.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || scalar == " " || scalar == ";" || scalar == "," {
                throw CommunityError(.invalidName, "\(what) name \"\(name)\" contains a space, control character, ';' or ','")
            }
            if scalar == "/", !allowSlash {
                throw CommunityError(.invalidName, "\(what) name \"\(name)\" must not contain '/'")
            }
        }
        if allowSlash, name.hasPrefix("/") || name.hasSuffix("/") || name.contains("//") {
            throw CommunityError(.invalidName, "\(what) name \"\(name)\" has an empty segment")
        }
    }
}

/// The result of ``Community/found(name:founder:now:validity:)``.
public struct CommunityFounding: Sendable {
    /// The new community.
    public let community: Community
    /// The founding key pair; keep it in the data directory with mode 0600.
    public let foundingKey: FoundingKey
    /// The founder's certificate (role owner), signed by the founding key.
    public let founderCredential: MembershipCredential
}
