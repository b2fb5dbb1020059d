public import Overlay

/// A signed statement that a public key is a member of a community (or of one of its sub-communities)
/// with a role until an expiry.
///
/// Signed by the founding key (the founder's certificate) or by a member allowed to admit; a
/// ``MembershipCredential`` lists the certificates from the member up to the founding key.
public struct MemberCertificate: Hashable, Sendable {
    /// The community.
    public let communityID: CommunityID
    /// The sub-community, e.g. `surveillance/north-street`; nil for membership of the community itself.
    public let subCommunity: String?
    /// The member's raw Ed25519 public key (its node identity key).
    public let subjectKey: [UInt8]
    /// The member's role.
    public let role: MemberRole
    /// When the certificate was issued.
    public let issuedAt: OverlayInstant
    /// When it stops being valid.
    public let expiry: OverlayInstant
    /// The signer's raw public key: the founding key, or the member key of an owner or admin.
    public let issuerKey: [UInt8]
    /// Ed25519 signature by ``issuerKey`` over ``signedBytes``.
    public let signature: [UInt8]

    /// The member's Node-ID (SHA-1 of ``subjectKey``).
    public var nodeID: NodeID { NodeID(hashing: subjectKey) }
    /// The issuer's Node-ID (SHA-1 of ``issuerKey``).
    public var issuerNodeID: NodeID { NodeID(hashing: issuerKey) }

    static let version: UInt8 = 1

    init(
        communityID: CommunityID, subCommunity: String?, subjectKey: [UInt8], role: MemberRole,
        issuedAt: OverlayInstant, expiry: OverlayInstant, issuerKey: [UInt8], signature: [UInt8]
    ) {
        self.communityID = communityID
        self.subCommunity = subCommunity
        self.subjectKey = subjectKey
        self.role = role
        self.issuedAt = issuedAt
        self.expiry = expiry
        self.issuerKey = issuerKey
        self.signature = signature
    }

    /// Issues a certificate signed by `signer`.
    static func issue(
        community: CommunityID, subCommunity: String?, subject: [UInt8], role: MemberRole,
        issuedAt: OverlayInstant, expiry: OverlayInstant, by signer: some MembershipSigner
    ) -> MemberCertificate {
        let unsigned = MemberCertificate(
            communityID: community, subCommunity: subCommunity, subjectKey: subject, role: role,
            issuedAt: issuedAt, expiry: expiry, issuerKey: signer.publicKey, signature: [])
        return unsigned.signed(signer.sign(unsigned.signedBytes))
    }

    private func signed(_ signature: [UInt8]) -> MemberCertificate {
        MemberCertificate(
            communityID: communityID, subCommunity: subCommunity, subjectKey: subjectKey, role: role,
            issuedAt: issuedAt, expiry: expiry, issuerKey: issuerKey, signature: signature)
    }

    /// The bytes the signature covers: a domain tag and every field but the signature.
    public var signedBytes: [UInt8] { wireSignedBytes }

    func writeUnsigned(to writer: inout WireWriter) {
        writer.byte(Self.version)
        writer.field(communityID.bytes)
        writer.string(subCommunity ?? "")
        writer.field(subjectKey)
        writer.byte(role.wireValue)
        writer.instant(issuedAt)
        writer.instant(expiry)
        writer.field(issuerKey)
    }

    /// The binary form (about 200 bytes).
    public var encoded: [UInt8] { wireEncoded }

    /// Decodes ``encoded``; a malformed input names the field.
    public init(decoding bytes: [UInt8]) throws(CommunityError) {
        var reader = WireReader(bytes, what: "member certificate")
        self = try Self.read(from: &reader)
        try reader.expectEnd()
    }

    static func read(from reader: inout WireReader) throws(CommunityError) -> MemberCertificate {
        try reader.version()
        let id = try reader.communityID()
        let sub = try reader.string("sub-community", limit: 256)
        let subject = try reader.field("subject key", exactly: 32)
        let roleByte = try reader.byte("role")
        guard let role = MemberRole(wireValue: roleByte) else {
            throw CommunityError.malformed("member certificate role", "unknown role \(roleByte)")
        }
        let issuedAt = try reader.instant("issue time")
        let expiry = try reader.instant("expiry")
        let issuer = try reader.field("issuer key", exactly: 32)
        let signature = try reader.field("signature", exactly: 64)
        return MemberCertificate(
            communityID: id, subCommunity: sub.isEmpty ? nil : sub, subjectKey: subject, role: role,
            issuedAt: issuedAt, expiry: expiry, issuerKey: issuer, signature: signature)
    }

    /// Whether the signature verifies against ``issuerKey``.
    public var hasValidSignature: Bool { isValidSignature(signature, by: issuerKey, over: signedBytes) }
}

/// A member's proof of membership: its certificate first, then the certificate of each issuer, up to a
/// certificate signed by the community's founding key.
///
/// Carried in the `SMF-Member` header and in invitation tokens as URL-safe base64 of ``encoded``.
public struct MembershipCredential: Hashable, Sendable {
    /// Leaf first; the last one is signed by the founding key.
    public let certificates: [MemberCertificate]

    /// The longest chain a verifier follows.
    public static let maximumDepth = 8

    /// A credential from its certificates, leaf first.
    public init(certificates: [MemberCertificate]) {
        self.certificates = certificates
    }

    /// The member's certificate (the first); nil only for an empty, invalid credential.
    public var leaf: MemberCertificate? { certificates.first }

    /// The binary form: a version byte and the certificates.
    public var encoded: [UInt8] {
        var writer = WireWriter()
        writer.byte(MemberCertificate.version)
        writer.list(certificates) { $0.field($1.encoded) }
        return writer.bytes
    }

    /// URL-safe base64 of ``encoded``, as carried in the `SMF-Member` header.
    public var text: String { Base64URL.encode(encoded) }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws(CommunityError) {
        var reader = WireReader(bytes, what: "membership credential")
        self = try Self.read(from: &reader)
        try reader.expectEnd()
    }

    /// Decodes ``text``.
    public init(text: some StringProtocol) throws(CommunityError) {
        guard let raw = Base64URL.decode(text) else {
            throw CommunityError.malformed("membership credential", "not URL-safe base64")
        }
        try self.init(decoding: raw)
    }

    static func read(from reader: inout WireReader) throws(CommunityError) -> MembershipCredential {
        try reader.version()
        let certificates = try reader.list("certificates", limit: maximumDepth) { (inner: inout WireReader) throws(CommunityError) in
            try MemberCertificate(decoding: try inner.field("certificate", limit: 1024))
        }
        return MembershipCredential(certificates: certificates)
    }
}

extension MemberCertificate: SignedWireObject {
    static let signatureDomain = "smf-member-cert-v1"
}
