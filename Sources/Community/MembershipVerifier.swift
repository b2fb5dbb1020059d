public import Overlay

/// A member whose credential verified: who it is and what it may do.
public struct VerifiedMember: Hashable, Sendable {
    /// The community.
    public let communityID: CommunityID
    /// The member's public key.
    public let publicKey: [UInt8]
    /// The member's Node-ID.
    public let nodeID: NodeID
    /// The member's role.
    public let role: MemberRole
    /// When the member's certificate expires.
    public let expiry: OverlayInstant
}

/// Checks membership offline: certificate chains against a community's founding key, and revocations
/// (seed 000 §IV: the community keeps strangers out without a server).
///
/// A verifier needs only the ``Community`` (name and founding public key) and the ``RevocationSet``.
public struct MembershipVerifier: Sendable {
    /// The community checked against.
    public let community: Community
    /// The verified revocations known so far.
    public private(set) var revocations: RevocationSet
    /// Tolerated clock difference for a certificate issued "in the future".
    public var clockSkew: Duration = .seconds(300)

    /// A verifier for `community` with the given revocations (already verified, e.g. from the node's store).
    public init(community: Community, revocations: RevocationSet = RevocationSet()) {
        self.community = community
        self.revocations = revocations
    }

    /// Checks a credential: every certificate signed, in date, in this community, each issuer allowed to
    /// admit, the chain ending at the founding key, and no key in it revoked.
    public func verify(_ credential: MembershipCredential, now: OverlayInstant) throws(CommunityError) -> VerifiedMember {
        let chain = credential.certificates
        guard let leaf = chain.first else {
            throw CommunityError.malformed("membership credential", "it holds no certificate")
        }
        guard chain.count <= MembershipCredential.maximumDepth else {
            throw CommunityError.malformed("membership credential", "\(chain.count) certificates exceed the limit of \(MembershipCredential.maximumDepth)")
        }
        for (index, certificate) in chain.enumerated() {
            let who = index == 0 ? "member \(certificate.nodeID.shortDescription)" : "issuer \(certificate.nodeID.shortDescription)"
            guard certificate.communityID == community.id else {
                throw CommunityError(
                    .foreign,
                    "the certificate of \(who) belongs to community \(certificate.communityID.shortDescription), not \(community)")
            }
            guard certificate.subCommunity == nil else {
                throw CommunityError(
                    .untrustedChain, "the certificate of \(who) is for sub-community \(certificate.subCommunity ?? ""), not for the community")
            }
            guard certificate.hasValidSignature else {
                throw CommunityError(.badSignature, "the certificate of \(who) has a signature that does not verify")
            }
            guard certificate.expiry > now else {
                throw CommunityError(.expired, "the certificate of \(who) in \(community) expired at \(certificate.expiry.iso8601)")
            }
            guard certificate.issuedAt <= now.advanced(by: clockSkew) else {
                throw CommunityError(.notYetValid, "the certificate of \(who) is issued in the future, at \(certificate.issuedAt.iso8601)")
            }
            if index > 0 {
                guard certificate.role.mayAdmit else {
                    throw CommunityError(.notAllowed, "\(who) has role \(certificate.role.rawValue) and may not admit members")
                }
                let issued = chain[index - 1]
                guard issued.issuedAt >= certificate.issuedAt, issued.issuedAt < certificate.expiry else {
                    throw CommunityError(.untrustedChain, "a certificate was issued outside its issuer's validity")
                }
            }
            let nextKey = index + 1 < chain.count ? chain[index + 1].subjectKey : community.foundingPublicKey
            guard certificate.issuerKey == nextKey else {
                throw CommunityError(
                    .untrustedChain,
                    index + 1 < chain.count
                        ? "the certificate of \(who) is not signed by the next certificate's member"
                        : "the chain of \(leaf.nodeID.shortDescription) does not end at the founding key of \(community)")
            }
            if let revocation = revocations.revocation(of: certificate.subjectKey) {
                throw CommunityError(
                    index == 0 ? .revoked : .revokedIssuer,
                    "\(who) was revoked from \(community) at \(revocation.revokedAt.iso8601) by \(revocation.issuerNodeID.shortDescription)"
                        + (revocation.reason.isEmpty ? "" : ": \(revocation.reason)"))
            }
        }
        return VerifiedMember(
            communityID: community.id, publicKey: leaf.subjectKey, nodeID: leaf.nodeID, role: leaf.role, expiry: leaf.expiry)
    }

    /// Checks a revocation offline (signed by the founding key, or by a non-revoked owner or admin whose
    /// credential it carries) and adds it to ``revocations``.
    ///
    /// A revocation that is already known is accepted again without change. The founding key cannot be revoked.
    public mutating func accept(_ revocation: Revocation, now: OverlayInstant) throws(CommunityError) {
        try check(revocation, now: now)
        revocations.insert(revocation)
    }

    /// Checks a revocation without adding it.
    public func check(_ revocation: Revocation, now: OverlayInstant) throws(CommunityError) {
        guard revocation.communityID == community.id else {
            throw CommunityError(.foreign, "the revocation belongs to community \(revocation.communityID.shortDescription), not \(community)")
        }
        guard revocation.revokedKey != community.foundingPublicKey else {
            throw CommunityError(.notAllowed, "the founding key of \(community) cannot be revoked")
        }
        if revocation.issuerKey != community.foundingPublicKey {
            guard let credential = revocation.issuerCredential else {
                throw CommunityError(.untrustedChain, "the revocation is signed by \(revocation.issuerNodeID.shortDescription) without a credential")
            }
            let issuer: VerifiedMember
            do {
                issuer = try verify(credential, now: now)
            } catch {
                throw CommunityError(
                    error.code == .revoked ? .revokedIssuer : error.code, "the revocation's issuer is not a valid member: \(error.message)")
            }
            guard issuer.publicKey == revocation.issuerKey else {
                throw CommunityError(.untrustedChain, "the revocation's credential is not the signer's")
            }
            guard issuer.role.mayAdmit else {
                throw CommunityError(.notAllowed, "member \(issuer.nodeID.shortDescription) has role member and may not revoke")
            }
        }
        guard isValidSignature(revocation.signature, by: revocation.issuerKey, over: revocation.signedBytes) else {
            throw CommunityError(.badSignature, "the revocation of \(revocation.revokedNodeID.shortDescription) has a signature that does not verify")
        }
    }
}
