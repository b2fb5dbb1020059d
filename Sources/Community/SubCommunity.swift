public import Overlay

/// How a sub-community admits members.
public enum SubCommunityPolicy: String, Hashable, Sendable, CaseIterable, Codable {
    /// Any community member who asks is admitted at once.
    case open
    /// Only members an owner invited are admitted.
    case invite
    /// An owner approves each request.
    case approval

    var wireValue: UInt8 {
        switch self {
        case .open: 1
        case .invite: 2
        case .approval: 3
        }
    }

    init?(wireValue: UInt8) {
        guard let policy = Self.allCases.first(where: { $0.wireValue == wireValue }) else { return nil }
        self = policy
    }
}

/// A sub-community's founding statement: name, policy and owners, signed by the community member who
/// created it, with that member's credential so anyone can check it offline.
public struct SubCommunityCharter: Hashable, Sendable {
    /// The community it belongs to.
    public let communityID: CommunityID
    /// E.g. `surveillance/north-street`.
    public let name: String
    /// How it admits members.
    public let policy: SubCommunityPolicy
    /// The owners' member keys (the creator first).
    public let owners: [[UInt8]]
    /// When it was created.
    public let createdAt: OverlayInstant
    /// The creator's community credential.
    public let creatorCredential: MembershipCredential
    /// The creator's signature over ``signedBytes``.
    public let signature: [UInt8]

    /// The creator's member key.
    public var creatorKey: [UInt8] { creatorCredential.leaf?.subjectKey ?? [] }

    /// Creates and signs a charter; the creating member becomes its first owner.
    public static func create(
        name: String, policy: SubCommunityPolicy, additionalOwners: [[UInt8]] = [], by member: CommunityMember,
        now: OverlayInstant
    ) throws(CommunityError) -> SubCommunityCharter {
        try Community.validate(name: name, what: "sub-community", allowSlash: true)
        var owners = [member.identity.publicKey]
        for owner in additionalOwners where !owners.contains(owner) { owners.append(owner) }
        let unsigned = SubCommunityCharter(
            communityID: member.community.id, name: name, policy: policy, owners: owners, createdAt: now,
            creatorCredential: member.credential, signature: [])
        return SubCommunityCharter(
            communityID: unsigned.communityID, name: name, policy: policy, owners: owners, createdAt: now,
            creatorCredential: member.credential, signature: member.identity.sign(unsigned.signedBytes))
    }

    init(
        communityID: CommunityID, name: String, policy: SubCommunityPolicy, owners: [[UInt8]], createdAt: OverlayInstant,
        creatorCredential: MembershipCredential, signature: [UInt8]
    ) {
        self.communityID = communityID
        self.name = name
        self.policy = policy
        self.owners = owners
        self.createdAt = createdAt
        self.creatorCredential = creatorCredential
        self.signature = signature
    }

    func writeUnsigned(to writer: inout WireWriter) {
        writer.byte(1)
        writer.field(communityID.bytes)
        writer.string(name)
        writer.byte(policy.wireValue)
        writer.list(owners) { $0.field($1) }
        writer.instant(createdAt)
        writer.field(creatorCredential.encoded)
    }

    var signedBytes: [UInt8] { wireSignedBytes }

    /// The binary form, for the overlay and the store.
    public var encoded: [UInt8] { wireEncoded }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws(CommunityError) {
        var reader = WireReader(bytes, what: "sub-community charter")
        try reader.version()
        let id = try reader.communityID()
        let name = try reader.string("name", limit: 256)
        let policyByte = try reader.byte("policy")
        guard let policy = SubCommunityPolicy(wireValue: policyByte) else {
            throw CommunityError.malformed("sub-community charter policy", "unknown policy \(policyByte)")
        }
        let owners = try reader.list("owners", limit: 32) { (inner: inout WireReader) throws(CommunityError) in
            try inner.field("owner key", exactly: 32)
        }
        let createdAt = try reader.instant("creation time")
        let credential = try MembershipCredential(decoding: try reader.field("creator credential", limit: 2048))
        let signature = try reader.field("signature", exactly: 64)
        try reader.expectEnd()
        self.init(
            communityID: id, name: name, policy: policy, owners: owners, createdAt: createdAt, creatorCredential: credential,
            signature: signature)
    }

    /// Checks the charter offline: the creator is a valid member of the community, listed first among the
    /// owners, and signed it.
    public func verify(membership: MembershipVerifier, now: OverlayInstant) throws(CommunityError) {
        guard communityID == membership.community.id else {
            throw CommunityError(.foreign, "sub-community \(name) belongs to community \(communityID.shortDescription), not \(membership.community)")
        }
        try Community.validate(name: name, what: "sub-community", allowSlash: true)
        let creator: VerifiedMember
        do {
            creator = try membership.verify(creatorCredential, now: now)
        } catch {
            throw CommunityError(error.code == .revoked ? .revokedIssuer : error.code, "sub-community \(name): its creator is not a valid member: \(error.message)")
        }
        guard owners.first == creator.publicKey else {
            throw CommunityError(.untrustedChain, "sub-community \(name): its creator is not its first owner")
        }
        guard isValidSignature(signature, by: creator.publicKey, over: signedBytes) else {
            throw CommunityError(.badSignature, "sub-community \(name): the charter's signature does not verify")
        }
    }
}

/// A signed statement about sub-community membership: a join request, an invitation, a removal or a leave.
public struct SubCommunityStatement: Hashable, Sendable {
    /// What is stated.
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
        /// The subject asks to join (signed by the subject).
        case joinRequest = 1
        /// An owner invites the subject (invite policy).
        case invitation = 2
        /// An owner removes the subject.
        case removal = 3
        /// The subject leaves (signed by the subject).
        case leave = 4
    }

    /// What is stated.
    public let kind: Kind
    /// The community.
    public let communityID: CommunityID
    /// The sub-community's name.
    public let subCommunity: String
    /// The member the statement is about.
    public let subjectKey: [UInt8]
    /// When it was signed.
    public let at: OverlayInstant
    /// The signer's member key.
    public let signerKey: [UInt8]
    /// Signature over ``signedBytes``.
    public let signature: [UInt8]

    /// The subject's Node-ID.
    public var subjectNodeID: NodeID { NodeID(hashing: subjectKey) }

    /// Signs a statement.
    public static func sign(
        _ kind: Kind, subject: [UInt8], in subCommunity: String, of community: CommunityID, at now: OverlayInstant,
        by signer: some MembershipSigner
    ) -> SubCommunityStatement {
        let unsigned = SubCommunityStatement(
            kind: kind, communityID: community, subCommunity: subCommunity, subjectKey: subject, at: now,
            signerKey: signer.publicKey, signature: [])
        return SubCommunityStatement(
            kind: kind, communityID: community, subCommunity: subCommunity, subjectKey: subject, at: now,
            signerKey: signer.publicKey, signature: signer.sign(unsigned.signedBytes))
    }

    init(
        kind: Kind, communityID: CommunityID, subCommunity: String, subjectKey: [UInt8], at: OverlayInstant,
        signerKey: [UInt8], signature: [UInt8]
    ) {
        self.kind = kind
        self.communityID = communityID
        self.subCommunity = subCommunity
        self.subjectKey = subjectKey
        self.at = at
        self.signerKey = signerKey
        self.signature = signature
    }

    func writeUnsigned(to writer: inout WireWriter) {
        writer.byte(1)
        writer.byte(kind.rawValue)
        writer.field(communityID.bytes)
        writer.string(subCommunity)
        writer.field(subjectKey)
        writer.instant(at)
        writer.field(signerKey)
    }

    var signedBytes: [UInt8] { wireSignedBytes }

    /// Whether the signature verifies against ``signerKey``.
    public var hasValidSignature: Bool { isValidSignature(signature, by: signerKey, over: signedBytes) }

    /// The binary form.
    public var encoded: [UInt8] { wireEncoded }

    /// Decodes ``encoded``.
    public init(decoding bytes: [UInt8]) throws(CommunityError) {
        var reader = WireReader(bytes, what: "sub-community statement")
        try reader.version()
        let kindByte = try reader.byte("kind")
        guard let kind = Kind(rawValue: kindByte) else {
            throw CommunityError.malformed("sub-community statement kind", "unknown kind \(kindByte)")
        }
        let id = try reader.communityID()
        let name = try reader.string("sub-community", limit: 256)
        let subject = try reader.field("subject key", exactly: 32)
        let at = try reader.instant("time")
        let signer = try reader.field("signer key", exactly: 32)
        let signature = try reader.field("signature", exactly: 64)
        try reader.expectEnd()
        self.init(kind: kind, communityID: id, subCommunity: name, subjectKey: subject, at: at, signerKey: signer, signature: signature)
    }
}

/// One sub-community as a node knows it: the charter, members it approved, pending requests, invitations
/// and removals. Membership of a sub-community is a ``MemberCertificate`` whose `subCommunity` is the
/// name, signed by an owner who is itself a community member.
public struct SubCommunity: Sendable {
    /// The verified charter.
    public let charter: SubCommunityCharter
    /// Members whose certificates this node issued or stored, by Node-ID.
    public private(set) var members: [NodeID: MemberCertificate] = [:]
    /// Join requests waiting for an owner's approval, by Node-ID.
    public private(set) var pending: [NodeID: SubCommunityStatement] = [:]
    /// Keys an owner invited (invite policy).
    public private(set) var invited: Set<[UInt8]> = []
    /// The latest removal or leave per member key.
    public private(set) var removals: [[UInt8]: SubCommunityStatement] = [:]

    /// The name.
    public var name: String { charter.name }

    /// A sub-community from a charter, checked against the community.
    public init(charter: SubCommunityCharter, membership: MembershipVerifier, now: OverlayInstant) throws(CommunityError) {
        try charter.verify(membership: membership, now: now)
        self.charter = charter
    }

    /// What an owner's node should do with a join request.
    public enum JoinDecision: Hashable, Sendable {
        /// Admit now (open policy, or the requester was invited): call ``approve(_:by:now:validity:)``.
        case approveNow
        /// Wait for an owner (approval policy); the request is kept in ``pending``.
        case awaitingApproval
    }

    /// Receives a join request with the requester's community credential.
    public mutating func receive(
        joinRequest statement: SubCommunityStatement, credential: MembershipCredential, membership: MembershipVerifier,
        now: OverlayInstant
    ) throws(CommunityError) -> JoinDecision {
        try checkScope(statement, membership: membership)
        guard statement.kind == .joinRequest else {
            throw CommunityError.malformed("join request", "the statement is a \(statement.kind), not a join request")
        }
        guard statement.signerKey == statement.subjectKey, statement.hasValidSignature else {
            throw CommunityError(.badSignature, "the join request for \(name) is not signed by its subject")
        }
        let requester = try membership.verify(credential, now: now)
        guard requester.publicKey == statement.subjectKey else {
            throw CommunityError(.untrustedChain, "the join request for \(name) comes with another member's credential")
        }
        switch charter.policy {
        case .open:
            pending[requester.nodeID] = statement
            return .approveNow
        case .invite:
            guard invited.contains(statement.subjectKey) else {
                throw CommunityError(.notAllowed, "sub-community \(name) admits invited members only, and \(requester.nodeID.shortDescription) was not invited")
            }
            pending[requester.nodeID] = statement
            return .approveNow
        case .approval:
            pending[requester.nodeID] = statement
            return .awaitingApproval
        }
    }

    /// Invites a member (invite policy); `owner` must be an owner.
    public mutating func invite(_ subject: [UInt8], by owner: some MembershipSigner, now: OverlayInstant) throws(CommunityError) -> SubCommunityStatement {
        try requireOwner(owner.publicKey)
        let statement = SubCommunityStatement.sign(.invitation, subject: subject, in: name, of: charter.communityID, at: now, by: owner)
        invited.insert(subject)
        return statement
    }

    /// Approves a pending request: issues the member's sub-community certificate, signed by `owner`.
    public mutating func approve(
        _ nodeID: NodeID, by owner: some MembershipSigner, now: OverlayInstant, validity: Duration = Community.defaultValidity
    ) throws(CommunityError) -> (certificate: MemberCertificate, event: MembershipEvent) {
        try requireOwner(owner.publicKey)
        guard let request = pending[nodeID] else {
            throw CommunityError(.notAllowed, "\(nodeID.shortDescription) has no pending request to join \(name)")
        }
        let certificate = MemberCertificate.issue(
            community: charter.communityID, subCommunity: name, subject: request.subjectKey, role: .member,
            issuedAt: now, expiry: now.advanced(by: validity), by: owner)
        pending[nodeID] = nil
        members[nodeID] = certificate
        return (
            certificate,
            MembershipEvent(
                kind: charter.policy == .approval ? .approved : .joined, communityID: charter.communityID, subCommunity: name,
                member: nodeID, role: .member, by: NodeID(hashing: owner.publicKey), at: now)
        )
    }

    /// Removes a member; `owner` must be an owner. Its certificates issued before now stop verifying.
    public mutating func remove(_ subject: [UInt8], by owner: some MembershipSigner, now: OverlayInstant) throws(CommunityError) -> (statement: SubCommunityStatement, event: MembershipEvent) {
        try requireOwner(owner.publicKey)
        let statement = SubCommunityStatement.sign(.removal, subject: subject, in: name, of: charter.communityID, at: now, by: owner)
        let event = try apply(statement)
        return (statement, event)
    }

    /// Applies a signed removal, leave or invitation received from another node; returns the event.
    @discardableResult
    public mutating func apply(_ statement: SubCommunityStatement) throws(CommunityError) -> MembershipEvent {
        guard statement.communityID == charter.communityID, statement.subCommunity == name else {
            throw CommunityError(.foreign, "the statement is about \(statement.subCommunity), not \(name)")
        }
        guard statement.hasValidSignature else {
            throw CommunityError(.badSignature, "the \(statement.kind) statement for \(name) has a signature that does not verify")
        }
        let subject = statement.subjectNodeID
        switch statement.kind {
        case .removal:
            try requireOwner(statement.signerKey)
        case .leave:
            guard statement.signerKey == statement.subjectKey else {
                throw CommunityError(.notAllowed, "a leave from \(name) must be signed by the member leaving")
            }
        case .invitation:
            try requireOwner(statement.signerKey)
            invited.insert(statement.subjectKey)
            return MembershipEvent(
                kind: .invited, communityID: charter.communityID, subCommunity: name, member: subject, role: nil,
                by: NodeID(hashing: statement.signerKey), at: statement.at)
        case .joinRequest:
            throw CommunityError(.notAllowed, "a join request must come with the requester's credential")
        }
        if let existing = removals[statement.subjectKey], existing.at >= statement.at {
            // Keep the latest.
        } else {
            removals[statement.subjectKey] = statement
        }
        members[subject] = nil
        pending[subject] = nil
        return MembershipEvent(
            kind: statement.kind == .leave ? .left : .removed, communityID: charter.communityID, subCommunity: name, member: subject,
            role: nil, by: statement.kind == .leave ? nil : NodeID(hashing: statement.signerKey), at: statement.at)
    }

    /// Records a member certificate learned elsewhere (from the store, or sent by an owner) after checking it.
    public mutating func record(_ certificate: MemberCertificate, membership: MembershipVerifier, now: OverlayInstant) throws(CommunityError) {
        try verify(certificate, membership: membership, now: now)
        members[certificate.nodeID] = certificate
        if let request = pending[certificate.nodeID], request.at <= certificate.issuedAt { pending[certificate.nodeID] = nil }
    }

    /// Checks a sub-community certificate offline: right sub-community, signed by an owner who is not revoked
    /// from the community, in date, and not issued before a later removal or leave of its subject.
    public func verify(_ certificate: MemberCertificate, membership: MembershipVerifier, now: OverlayInstant) throws(CommunityError) {
        guard certificate.communityID == charter.communityID, certificate.subCommunity == name else {
            throw CommunityError(.foreign, "the certificate is for \(certificate.subCommunity ?? "the community"), not sub-community \(name)")
        }
        guard charter.owners.contains(certificate.issuerKey) else {
            throw CommunityError(.untrustedChain, "the certificate for \(name) is signed by \(certificate.issuerNodeID.shortDescription), who is not an owner")
        }
        guard certificate.hasValidSignature else {
            throw CommunityError(.badSignature, "the certificate for \(name) has a signature that does not verify")
        }
        guard certificate.expiry > now else {
            throw CommunityError(.expired, "the certificate of \(certificate.nodeID.shortDescription) for \(name) expired at \(certificate.expiry.iso8601)")
        }
        if membership.revocations.isRevoked(certificate.issuerKey) {
            throw CommunityError(.revokedIssuer, "the owner who signed the certificate for \(name) was revoked from the community")
        }
        if membership.revocations.isRevoked(certificate.subjectKey) {
            throw CommunityError(.revoked, "\(certificate.nodeID.shortDescription) was revoked from the community")
        }
        if let removal = removals[certificate.subjectKey], removal.at >= certificate.issuedAt {
            throw CommunityError(
                .revoked, "\(certificate.nodeID.shortDescription) \(removal.kind == .leave ? "left" : "was removed from") \(name) at \(removal.at.iso8601)")
        }
    }

    /// Puts back a pending join request read from the store (its credential was checked when it arrived).
    mutating func restorePending(_ statement: SubCommunityStatement) {
        guard statement.kind == .joinRequest, statement.hasValidSignature, statement.signerKey == statement.subjectKey else { return }
        if let removal = removals[statement.subjectKey], removal.at >= statement.at { return }
        pending[statement.subjectNodeID] = statement
    }

    private func checkScope(_ statement: SubCommunityStatement, membership: MembershipVerifier) throws(CommunityError) {
        guard statement.communityID == membership.community.id, statement.communityID == charter.communityID, statement.subCommunity == name else {
            throw CommunityError(.foreign, "the statement is about \(statement.subCommunity), not \(name) in \(membership.community)")
        }
    }

    private func requireOwner(_ key: [UInt8]) throws(CommunityError) {
        guard charter.owners.contains(key) else {
            throw CommunityError(.notAllowed, "\(NodeID(hashing: key).shortDescription) is not an owner of \(name)")
        }
    }
}

extension SubCommunityCharter: SignedWireObject {
    static let signatureDomain = "smf-subcommunity-v1"
}

extension SubCommunityStatement: SignedWireObject {
    static let signatureDomain = "smf-subcommunity-statement-v1"
}
