public import Overlay

/// An invitation to join a community: a signed, single-use token a person can paste or send.
///
/// Text form (one line, URL-safe): `smf1.<payload>.<signature>`, both parts URL-safe base64 without
/// padding. The payload carries the community's name and founding public key (so the joiner learns
/// the community from the token), the role offered, the expiry, a 16-byte single-use nonce, the
/// issuer's credential and bootstrap hints (URIs of members to contact). The issuer, an owner or
/// admin, signs the payload with its member key.
public struct Invitation: Hashable, Sendable {
    /// The community invited to, as the issuer describes it.
    public let community: Community
    /// The role the joiner will get.
    public let role: MemberRole
    /// When the invitation stops being accepted.
    public let expiry: OverlayInstant
    /// 16 random bytes; an admitting member accepts each nonce once.
    public let nonce: [UInt8]
    /// The issuer's credential, chaining to the founding key.
    public let issuerCredential: MembershipCredential
    /// Where to reach members, e.g. `sip:192.0.2.7:5060`.
    public let bootstrap: [String]
    /// Ed25519 signature by the issuer's member key over ``payload``.
    public let signature: [UInt8]

    /// The text prefix of this token version.
    public static let prefix = "smf1."
    /// The length of a nonce in bytes.
    public static let nonceLength = 16

    /// The issuer's member key (the subject of its credential's leaf).
    public var issuerKey: [UInt8] { issuerCredential.leaf?.subjectKey ?? [] }

    /// Issues an invitation signed by `issuer`.
    /// - Parameters:
    ///   - nonce: 16 bytes; random when nil.
    public static func issue(
        community: Community, role: MemberRole, expiry: OverlayInstant, bootstrap: [String],
        issuer: some MembershipSigner, credential: MembershipCredential, nonce: [UInt8]? = nil
    ) -> Invitation {
        var generator = SystemRandomNumberGenerator()
        let nonce = nonce ?? (0..<nonceLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let unsigned = Invitation(
            community: community, role: role, expiry: expiry, nonce: nonce, issuerCredential: credential,
            bootstrap: bootstrap, signature: [])
        return Invitation(
            community: community, role: role, expiry: expiry, nonce: nonce, issuerCredential: credential,
            bootstrap: bootstrap, signature: issuer.sign(unsigned.signedBytes))
    }

    init(
        community: Community, role: MemberRole, expiry: OverlayInstant, nonce: [UInt8],
        issuerCredential: MembershipCredential, bootstrap: [String], signature: [UInt8]
    ) {
        self.community = community
        self.role = role
        self.expiry = expiry
        self.nonce = nonce
        self.issuerCredential = issuerCredential
        self.bootstrap = bootstrap
        self.signature = signature
    }

    /// The signed payload bytes.
    public var payload: [UInt8] {
        var writer = WireWriter()
        writer.byte(1)
        writer.string(community.name)
        writer.field(community.foundingPublicKey)
        writer.byte(role.wireValue)
        writer.instant(expiry)
        writer.field(nonce)
        writer.field(issuerCredential.encoded)
        writer.list(bootstrap) { $0.string($1) }
        return writer.bytes
    }

    var signedBytes: [UInt8] { Array("smf-invitation-v1".utf8) + payload }

    /// The one-line token: `smf1.<payload>.<signature>`.
    public var text: String { Self.prefix + Base64URL.encode(payload) + "." + Base64URL.encode(signature) }

    /// Parses a token; surrounding whitespace (from pasting) is ignored.
    ///
    /// Only the form is checked here; ``MembershipVerifier/verify(_:now:usedNonces:)`` checks the
    /// signature, expiry, community, issuer and nonce.
    public init(text: String) throws(CommunityError) {
        let token = text.trimmingWhitespace()
        guard token.hasPrefix("smf") else {
            throw CommunityError.malformed("invitation", "expected a token starting with \(Self.prefix), found \"\(token.prefix(12))\"")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts[0] == "smf1" else {
            throw CommunityError(.wrongVersion, "invitation version \(parts[0]) is not supported; this node reads smf1 tokens")
        }
        guard parts.count == 3 else {
            throw CommunityError.malformed("invitation", "expected 3 dot-separated parts (smf1.<payload>.<signature>), found \(parts.count)")
        }
        guard let payload = Base64URL.decode(parts[1]) else {
            throw CommunityError.malformed("invitation payload", "not URL-safe base64")
        }
        guard let signature = Base64URL.decode(parts[2]) else {
            throw CommunityError.malformed("invitation signature", "not URL-safe base64")
        }
        guard signature.count == 64 else {
            throw CommunityError.malformed("invitation signature", "expected 64 bytes, found \(signature.count)")
        }
        var reader = WireReader(payload, what: "invitation")
        try reader.version()
        let name = try reader.string("community name", limit: 256)
        let key = try reader.field("founding key", exactly: 32)
        let community: Community
        do {
            community = try Community(name: name, foundingPublicKey: key)
        } catch {
            throw CommunityError.malformed("invitation community name", error.message)
        }
        let roleByte = try reader.byte("role")
        guard let role = MemberRole(wireValue: roleByte) else {
            throw CommunityError.malformed("invitation role", "unknown role \(roleByte)")
        }
        let expiry = try reader.instant("expiry")
        let nonce = try reader.field("nonce", exactly: Self.nonceLength)
        let credentialBytes = try reader.field("issuer credential", limit: 2048)
        let credential: MembershipCredential
        do {
            credential = try MembershipCredential(decoding: credentialBytes)
        } catch {
            throw CommunityError(error.code, "invitation issuer credential: \(error.message)")
        }
        let bootstrap = try reader.list("bootstrap hints", limit: 16) { (inner: inout WireReader) throws(CommunityError) in
            try inner.string("bootstrap hint", limit: 512)
        }
        try reader.expectEnd()
        self.init(
            community: community, role: role, expiry: expiry, nonce: nonce, issuerCredential: credential,
            bootstrap: bootstrap, signature: signature)
    }
}

/// A joiner's request to be admitted: the invitation and the joiner's public key, signed with the
/// joiner's key to prove possession.
public struct JoinRequest: Hashable, Sendable {
    /// The invitation being redeemed.
    public let invitation: Invitation
    /// The joiner's raw public key (its node identity).
    public let joinerKey: [UInt8]
    /// Ed25519 signature by the joiner over ``signedBytes``.
    public let signature: [UInt8]

    /// The joiner's Node-ID.
    public var joinerNodeID: NodeID { NodeID(hashing: joinerKey) }

    /// Builds and signs a request for `invitation` with the joiner's identity.
    public init(invitation: Invitation, joiner: some MembershipSigner) {
        self.invitation = invitation
        joinerKey = joiner.publicKey
        signature = joiner.sign(Self.signedBytes(invitation: invitation, joinerKey: joiner.publicKey))
    }

    init(invitation: Invitation, joinerKey: [UInt8], signature: [UInt8]) {
        self.invitation = invitation
        self.joinerKey = joinerKey
        self.signature = signature
    }

    static func signedBytes(invitation: Invitation, joinerKey: [UInt8]) -> [UInt8] {
        var writer = WireWriter()
        writer.bytes = Array("smf-join-v1".utf8)
        writer.field(invitation.community.id.bytes)
        writer.field(invitation.nonce)
        writer.field(invitation.signature)
        writer.field(joinerKey)
        return writer.bytes
    }

    /// Whether the joiner's proof of key possession verifies.
    public var provesKeyPossession: Bool {
        isValidSignature(signature, by: joinerKey, over: Self.signedBytes(invitation: invitation, joinerKey: joinerKey))
    }

    /// One line of text: the invitation token, the joiner key and the signature, `.`-separated.
    public var text: String { invitation.text + "." + Base64URL.encode(joinerKey) + "." + Base64URL.encode(signature) }

    /// Parses ``text``.
    public init(text: String) throws(CommunityError) {
        let parts = text.trimmingWhitespace().split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5 else {
            throw CommunityError.malformed("join request", "expected 5 dot-separated parts, found \(parts.count)")
        }
        let invitation = try Invitation(text: parts[0...2].joined(separator: "."))
        guard let key = Base64URL.decode(parts[3]), key.count == 32 else {
            throw CommunityError.malformed("join request joiner key", "expected 32 bytes of URL-safe base64")
        }
        guard let signature = Base64URL.decode(parts[4]), signature.count == 64 else {
            throw CommunityError.malformed("join request signature", "expected 64 bytes of URL-safe base64")
        }
        self.init(invitation: invitation, joinerKey: key, signature: signature)
    }
}

extension String {
    /// The text without leading and trailing spaces, tabs, CR and LF (as left by pasting).
    func trimmingWhitespace() -> String {
        let scalars: Set<Unicode.Scalar> = [" ", "\t", "\r", "\n"]
        let view = unicodeScalars
        guard let first = view.firstIndex(where: { !scalars.contains($0) }) else { return "" }
        let last = view.lastIndex(where: { !scalars.contains($0) }) ?? first
        return String(view[first...last])
    }
}

extension MembershipVerifier {
    /// Checks an invitation for this community: form, community, expiry, issuer (a valid, unrevoked owner or
    /// admin who may grant the role), signature and nonce. Returns the verified issuer.
    ///
    /// A joiner can call this on a verifier built from the token's own community to check the token
    /// before contacting anyone.
    public func verify(_ invitation: Invitation, now: OverlayInstant, usedNonces: Set<[UInt8]> = []) throws(CommunityError) -> VerifiedMember {
        guard invitation.community == community else {
            throw CommunityError(.foreign, "the invitation is for community \(invitation.community), not \(community)")
        }
        guard invitation.expiry > now else {
            throw CommunityError(
                .expired, "the invitation to \(community) expired at \(invitation.expiry.iso8601) (it is now \(now.iso8601))")
        }
        let issuer: VerifiedMember
        do {
            issuer = try verify(invitation.issuerCredential, now: now)
        } catch {
            let code: CommunityError.Code = error.code == .revoked ? .revokedIssuer : error.code
            throw CommunityError(code, "the invitation's issuer is not a valid member: \(error.message)")
        }
        guard issuer.role.mayAdmit else {
            throw CommunityError(.notAllowed, "the invitation's issuer \(issuer.nodeID.shortDescription) has role member and may not invite")
        }
        guard issuer.role <= invitation.role else {
            throw CommunityError(
                .notAllowed, "the invitation offers role \(invitation.role.rawValue), above its issuer's role \(issuer.role.rawValue)")
        }
        guard isValidSignature(invitation.signature, by: issuer.publicKey, over: invitation.signedBytes) else {
            throw CommunityError(.badSignature, "the invitation's signature does not verify against its issuer \(issuer.nodeID.shortDescription)")
        }
        guard !usedNonces.contains(invitation.nonce) else {
            throw CommunityError(.nonceAlreadyUsed, "the invitation (nonce \(hexString(invitation.nonce))) was already used")
        }
        return issuer
    }
}
