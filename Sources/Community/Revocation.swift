public import Overlay

/// A signed record that a member key is no longer a member: who, when, by whom, and why.
///
/// Signed by the founding key or by an owner or admin, whose credential travels inside the record, so any
/// member can verify a revocation offline with the founding public key alone
/// (``MembershipVerifier/accept(_:now:)``). Encoded for the overlay (a ``ResourceRecord`` value, see
/// ``RevocationSet/record(community:sequence:expiry:by:)``) and for SQLite.
public struct Revocation: Hashable, Sendable {
    /// The community.
    public let communityID: CommunityID
    /// The revoked member key.
    public let revokedKey: [UInt8]
    /// When the revocation was signed.
    public let revokedAt: OverlayInstant
    /// Free text, e.g. `moved away`.
    public let reason: String
    /// The signer's credential; nil when the founding key signed.
    public let issuerCredential: MembershipCredential?
    /// The signer's public key.
    public let issuerKey: [UInt8]
    /// Ed25519 signature over ``signedBytes``.
    public let signature: [UInt8]

    /// The revoked member's Node-ID.
    public var revokedNodeID: NodeID { NodeID(hashing: revokedKey) }
    /// The signer's Node-ID.
    public var issuerNodeID: NodeID { NodeID(hashing: issuerKey) }

    init(
        communityID: CommunityID, revokedKey: [UInt8], revokedAt: OverlayInstant, reason: String,
        issuerCredential: MembershipCredential?, issuerKey: [UInt8], signature: [UInt8]
    ) {
        self.communityID = communityID
        self.revokedKey = revokedKey
        self.revokedAt = revokedAt
        self.reason = reason
        self.issuerCredential = issuerCredential
        self.issuerKey = issuerKey
        self.signature = signature
    }

    /// Signs a revocation of `revokedKey` in `community`.
    /// - Parameters:
    ///   - credential: The signer's credential, or nil when `signer` is the founding key.
    public static func sign(
        revoking revokedKey: [UInt8], in community: CommunityID, at now: OverlayInstant, reason: String,
        by signer: some MembershipSigner, credential: MembershipCredential?
    ) -> Revocation {
        let unsigned = Revocation(
            communityID: community, revokedKey: revokedKey, revokedAt: now, reason: reason,
            issuerCredential: credential, issuerKey: signer.publicKey, signature: [])
        return Revocation(
            communityID: community, revokedKey: revokedKey, revokedAt: now, reason: reason,
            issuerCredential: credential, issuerKey: signer.publicKey, signature: signer.sign(unsigned.signedBytes))
    }

    /// The bytes the signature covers.
    public var signedBytes: [UInt8] { wireSignedBytes }

    func writeUnsigned(to writer: inout WireWriter) {
        writer.byte(1)
        writer.field(communityID.bytes)
        writer.field(revokedKey)
        writer.instant(revokedAt)
        writer.string(reason)
        writer.field(issuerCredential?.encoded ?? [])
        writer.field(issuerKey)
    }

    /// The binary form.
    public var encoded: [UInt8] { wireEncoded }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws(CommunityError) {
        var reader = WireReader(bytes, what: "revocation")
        try reader.version()
        let id = try reader.communityID()
        let revoked = try reader.field("revoked key", exactly: 32)
        let at = try reader.instant("time")
        let reason = try reader.string("reason", limit: 256)
        let credentialBytes = try reader.field("issuer credential", limit: 2048)
        let issuer = try reader.field("issuer key", exactly: 32)
        let signature = try reader.field("signature", exactly: 64)
        try reader.expectEnd()
        self.init(
            communityID: id, revokedKey: revoked, revokedAt: at, reason: reason,
            issuerCredential: credentialBytes.isEmpty ? nil : try MembershipCredential(decoding: credentialBytes),
            issuerKey: issuer, signature: signature)
    }
}

/// The revocations a node knows for one community, keyed by revoked key.
///
/// Insert only verified revocations (``MembershipVerifier/accept(_:now:)`` does).
public struct RevocationSet: Hashable, Sendable {
    private(set) var byKey: [[UInt8]: Revocation] = [:]

    /// An empty set.
    public init() {}

    /// Every revocation, oldest first.
    public var all: [Revocation] {
        byKey.values.sorted { ($0.revokedAt, $0.revokedNodeID) < ($1.revokedAt, $1.revokedNodeID) }
    }

    /// The number of revoked keys.
    public var count: Int { byKey.count }

    /// The revocation of `key`, if any.
    public func revocation(of key: [UInt8]) -> Revocation? { byKey[key] }

    /// Whether `key` is revoked.
    public func isRevoked(_ key: [UInt8]) -> Bool { byKey[key] != nil }

    /// Adds a revocation the caller has verified; the earliest revocation of a key is kept.
    mutating func insert(_ revocation: Revocation) {
        if let existing = byKey[revocation.revokedKey], existing.revokedAt <= revocation.revokedAt { return }
        byKey[revocation.revokedKey] = revocation
    }

    /// The binary form of the whole set (a 2-byte count, then each revocation), for an overlay record value.
    public var encoded: [UInt8] {
        var writer = WireWriter()
        let list = all.prefix(Int(UInt16.max))
        writer.byte(UInt8(list.count >> 8))
        writer.byte(UInt8(list.count & 0xff))
        for revocation in list { writer.field(revocation.encoded) }
        return writer.bytes
    }

    /// Decodes ``encoded`` into unverified revocations; pass each to ``MembershipVerifier/accept(_:now:)``.
    public static func decode(_ bytes: [UInt8]) throws(CommunityError) -> [Revocation] {
        var reader = WireReader(bytes, what: "revocation list")
        let count = Int(try reader.byte("count")) << 8 | Int(try reader.byte("count"))
        var result: [Revocation] = []
        for _ in 0..<count { result.append(try Revocation(decoding: try reader.field("revocation", limit: 4096))) }
        try reader.expectEnd()
        return result
    }

    /// The overlay resource name under which owners and admins store their revocation lists.
    public static func resourceName(community: CommunityID) -> String { "community:\(community)/revocations" }

    /// A signed overlay record (kind `.membership`) carrying this set, stored by `identity`.
    public func record(community: CommunityID, sequence: UInt64, expiry: OverlayInstant, by identity: NodeIdentity) -> ResourceRecord {
        .signed(
            kind: .membership, name: Self.resourceName(community: community), value: encoded,
            sequence: sequence, expiry: expiry, by: identity)
    }
}

extension Revocation: SignedWireObject {
    static let signatureDomain = "smf-revocation-v1"
}
