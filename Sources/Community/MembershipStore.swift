public import Overlay

/// A community this node belongs to, as kept in its store.
public struct StoredCommunity: Hashable, Sendable {
    /// The community (name and founding public key).
    public var community: Community
    /// This node's credential in it; nil while a join is in progress.
    public var credential: MembershipCredential?
    /// Where this node keeps the founding key, when it founded the community.
    public var foundingKeyPath: String?
    /// When this node joined or founded it.
    public var joinedAt: OverlayInstant

    /// Creates a stored community.
    public init(community: Community, credential: MembershipCredential?, foundingKeyPath: String? = nil, joinedAt: OverlayInstant) {
        self.community = community
        self.credential = credential
        self.foundingKeyPath = foundingKeyPath
        self.joinedAt = joinedAt
    }
}

/// A member of a community as this node knows it (for `smf community members`).
public struct MemberRecord: Hashable, Sendable {
    /// The community.
    public var communityID: CommunityID
    /// The member key.
    public var publicKey: [UInt8]
    /// The member's role.
    public var role: MemberRole
    /// The service types the member offers, e.g. `["camera", "smoke-detector"]`.
    public var services: [String]
    /// The member's credential, when known.
    public var credential: MembershipCredential?
    /// Where the member's node is reached, e.g. `sip:smf@192.0.2.7:5060` (its address of record), when known.
    public var contact: String?
    /// When this entry was last updated.
    public var updatedAt: OverlayInstant

    /// The member's Node-ID.
    public var nodeID: NodeID { NodeID(hashing: publicKey) }

    /// Creates a member record.
    public init(
        communityID: CommunityID, publicKey: [UInt8], role: MemberRole, services: [String] = [],
        credential: MembershipCredential? = nil, contact: String? = nil, updatedAt: OverlayInstant
    ) {
        self.communityID = communityID
        self.publicKey = publicKey
        self.role = role
        self.services = services
        self.credential = credential
        self.contact = contact
        self.updatedAt = updatedAt
    }
}

/// Durable membership state of a node: communities, its own credentials, the member list, sub-communities,
/// revocations and redeemed invitation nonces. Storage implements it on SQLite (`SQLiteMembershipStore`).
///
/// Every call is one transaction, durable when it returns.
public protocol MembershipStore: Sendable {
    /// Adds or replaces a community (and this node's credential in it).
    func saveCommunity(_ community: StoredCommunity) throws
    /// Every community this node belongs to, by name.
    func communities() throws -> [StoredCommunity]
    /// Forgets a community and everything stored for it (`smf community leave`).
    func removeCommunity(_ id: CommunityID) throws

    /// Adds or replaces a member entry.
    func saveMember(_ member: MemberRecord) throws
    /// Removes a member entry; returns whether it existed.
    @discardableResult func removeMember(_ nodeID: NodeID, from community: CommunityID) throws -> Bool
    /// The members of a community.
    func members(of community: CommunityID) throws -> [MemberRecord]

    /// Adds or replaces a sub-community's charter.
    func saveSubCommunity(_ charter: SubCommunityCharter) throws
    /// The sub-communities of a community.
    func subCommunities(of community: CommunityID) throws -> [SubCommunityCharter]
    /// Adds or replaces a sub-community certificate (this node's own, or one it issued as owner).
    func saveSubCommunityCertificate(_ certificate: MemberCertificate) throws
    /// The sub-community certificates stored for a community.
    func subCommunityCertificates(of community: CommunityID) throws -> [MemberCertificate]
    /// Appends a signed sub-community statement (removal, leave, invitation, pending join request).
    func saveSubCommunityStatement(_ statement: SubCommunityStatement) throws
    /// The statements stored for a community, oldest first.
    func subCommunityStatements(of community: CommunityID) throws -> [SubCommunityStatement]

    /// Adds a verified revocation (the earliest per key is kept).
    func saveRevocation(_ revocation: Revocation) throws
    /// The revocations stored for a community.
    func revocations(of community: CommunityID) throws -> [Revocation]

    /// Records an invitation nonce as redeemed; returns false when it already was.
    func markInvitationNonceUsed(_ nonce: [UInt8], in community: CommunityID, at time: OverlayInstant) throws -> Bool
    /// The redeemed invitation nonces of a community.
    func usedInvitationNonces(of community: CommunityID) throws -> Set<[UInt8]>
}

extension SubCommunity {
    /// Rebuilds a sub-community from stored state: the charter, then the certificates and statements
    /// (those that no longer verify are skipped).
    public static func restore(
        charter: SubCommunityCharter, certificates: [MemberCertificate], statements: [SubCommunityStatement],
        membership: MembershipVerifier, now: OverlayInstant
    ) throws(CommunityError) -> SubCommunity {
        var sub = try SubCommunity(charter: charter, membership: membership, now: now)
        for statement in statements.sorted(by: { $0.at < $1.at }) where statement.subCommunity == charter.name {
            if statement.kind == .joinRequest {
                sub.restorePending(statement)
            } else {
                _ = try? sub.apply(statement)
            }
        }
        for certificate in certificates where certificate.subCommunity == charter.name {
            try? sub.record(certificate, membership: membership, now: now)
        }
        return sub
    }
}
