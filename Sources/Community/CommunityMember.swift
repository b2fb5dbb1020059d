public import Overlay

/// This node's membership of one community: its identity, its credential and what it knows of the
/// community (revocations, invitation nonces it has redeemed). The entry point the node and CLI use.
///
/// A node in several communities holds one `CommunityMember` per community.
public struct CommunityMember: Sendable {
    /// This node's member key.
    public let identity: NodeIdentity
    /// This node's credential in the community.
    public let credential: MembershipCredential
    /// Checks other members against the community's founding key and revocations.
    public var verifier: MembershipVerifier
    /// Nonces of invitations this node has already redeemed (load them from the store on start).
    public var usedNonces: Set<[UInt8]>

    /// The community.
    public var community: Community { verifier.community }
    /// This node's role.
    public var role: MemberRole { credential.leaf?.role ?? .member }

    /// This node's membership; checks that `credential` is valid and belongs to `identity`.
    public init(
        identity: NodeIdentity, credential: MembershipCredential, community: Community,
        revocations: RevocationSet = RevocationSet(), usedNonces: Set<[UInt8]> = [], now: OverlayInstant
    ) throws(CommunityError) {
        let verifier = MembershipVerifier(community: community, revocations: revocations)
        let member = try verifier.verify(credential, now: now)
        guard member.publicKey == identity.publicKey else {
            throw CommunityError(.untrustedChain, "the credential belongs to \(member.nodeID.shortDescription), not to this node \(identity.nodeID.shortDescription)")
        }
        self.identity = identity
        self.credential = credential
        self.verifier = verifier
        self.usedNonces = usedNonces
    }

    /// The founder's membership right after ``Community/found(name:founder:now:validity:)``.
    public init(founding: CommunityFounding, identity: NodeIdentity, now: OverlayInstant) throws(CommunityError) {
        try self.init(identity: identity, credential: founding.founderCredential, community: founding.community, now: now)
    }

    /// Issues an invitation (`smf community invite`); only owners and admins may, and not above their role.
    public func invite(
        role: MemberRole = .member, expiry: OverlayInstant, bootstrap: [String], now: OverlayInstant, nonce: [UInt8]? = nil
    ) throws(CommunityError) -> Invitation {
        guard self.role.mayAdmit else {
            throw CommunityError(.notAllowed, "this node has role member in \(community) and may not invite")
        }
        guard self.role <= role else {
            throw CommunityError(.notAllowed, "this node has role \(self.role.rawValue) and may not invite an \(role.rawValue)")
        }
        guard expiry > now else {
            throw CommunityError(.expired, "the invitation would expire at \(expiry.iso8601), which is not after now (\(now.iso8601))")
        }
        return Invitation.issue(
            community: community, role: role, expiry: expiry, bootstrap: bootstrap, issuer: identity, credential: credential,
            nonce: nonce)
    }

    /// Admits a joiner (the admitting peer's side of `smf community join`): checks the invitation and the
    /// joiner's proof of key possession, records the nonce, and issues the joiner's credential.
    /// - Parameters:
    ///   - validity: How long the joiner's certificate lasts (capped at this node's own expiry).
    public mutating func admit(
        _ request: JoinRequest, now: OverlayInstant, validity: Duration = Community.defaultValidity
    ) throws(CommunityError) -> Admission {
        _ = try verifier.verify(request.invitation, now: now, usedNonces: usedNonces)
        guard request.provesKeyPossession else {
            throw CommunityError(.badSignature, "the join request of \(request.joinerNodeID.shortDescription) does not prove possession of its key")
        }
        guard !verifier.revocations.isRevoked(request.joinerKey) else {
            throw CommunityError(.revoked, "\(request.joinerNodeID.shortDescription) was revoked from \(community) and cannot rejoin with its old key")
        }
        guard role.mayAdmit, role <= request.invitation.role else {
            throw CommunityError(.notAllowed, "this node has role \(role.rawValue) and may not admit an \(request.invitation.role.rawValue)")
        }
        let ownExpiry = credential.leaf?.expiry ?? now
        let expiry = min(now.advanced(by: validity), ownExpiry)
        let certificate = MemberCertificate.issue(
            community: community.id, subCommunity: nil, subject: request.joinerKey, role: request.invitation.role,
            issuedAt: now, expiry: expiry, by: identity)
        usedNonces.insert(request.invitation.nonce)
        return Admission(
            credential: MembershipCredential(certificates: [certificate] + credential.certificates),
            nonce: request.invitation.nonce,
            event: MembershipEvent(
                kind: .joined, communityID: community.id, member: request.joinerNodeID, role: request.invitation.role,
                by: identity.nodeID, at: now))
    }

    /// Revokes a member (`smf community` removal); only owners and admins may. The revocation is added to
    /// this node's verifier; publish it in the overlay and store it.
    public mutating func revoke(_ key: [UInt8], reason: String, now: OverlayInstant) throws(CommunityError) -> Revocation {
        guard role.mayAdmit else {
            throw CommunityError(.notAllowed, "this node has role member in \(community) and may not revoke")
        }
        let revocation = Revocation.sign(
            revoking: key, in: community.id, at: now, reason: reason, by: identity, credential: credential)
        try verifier.accept(revocation, now: now)
        return revocation
    }

    /// Adds a revocation received from another member after checking it; returns the event to publish,
    /// or nil when the revocation was already known.
    public mutating func receive(_ revocation: Revocation, now: OverlayInstant) throws(CommunityError) -> MembershipEvent? {
        let known = verifier.revocations.revocation(of: revocation.revokedKey) != nil
        try verifier.accept(revocation, now: now)
        guard !known else { return nil }
        return MembershipEvent(
            kind: .revoked, communityID: community.id, member: revocation.revokedNodeID, role: nil,
            by: revocation.issuerNodeID, at: revocation.revokedAt, reason: revocation.reason)
    }

    /// A signer for this node's requests to other members.
    public var requestSigner: RequestSigner { RequestSigner(identity: identity, credential: credential) }
}

/// The result of admitting a joiner.
public struct Admission: Hashable, Sendable {
    /// The joiner's new credential; send it back in the join response.
    public let credential: MembershipCredential
    /// The redeemed invitation nonce; store it as used.
    public let nonce: [UInt8]
    /// The `joined` event to publish.
    public let event: MembershipEvent
}
