public import Community
import Foundation
import GRDB
import Overlay

/// The ``MembershipStore`` of a node: the `community_*` tables of its ``SMFDatabase`` (migration "v5-community").
///
/// Signed objects are stored as their encoded bytes and decoded again on reading; every call is one
/// transaction, durable on return (`synchronous = FULL`).
public struct SQLiteMembershipStore: MembershipStore {
    private let database: SMFDatabase

    public init(database: SMFDatabase) {
        self.database = database
    }

    // MARK: - Communities

    public func saveCommunity(_ stored: StoredCommunity) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO community_communities (id, name, founding_key, credential, founding_key_path, joined_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        credential = excluded.credential, founding_key_path = excluded.founding_key_path, joined_at = excluded.joined_at
                    """,
                arguments: [
                    Data(stored.community.id.bytes), stored.community.name, Data(stored.community.foundingPublicKey),
                    stored.credential.map { Data($0.encoded) }, stored.foundingKeyPath, stored.joinedAt.milliseconds,
                ])
        }
    }

    public func communities() throws -> [StoredCommunity] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM community_communities ORDER BY name, id").map { row throws in
                let community = try Community(name: row["name"], foundingPublicKey: [UInt8](row["founding_key"] as Data))
                let credential = try (row["credential"] as Data?).map { try MembershipCredential(decoding: [UInt8]($0)) }
                return StoredCommunity(
                    community: community, credential: credential, foundingKeyPath: row["founding_key_path"],
                    joinedAt: OverlayInstant(milliseconds: row["joined_at"]))
            }
        }
    }

    public func removeCommunity(_ id: CommunityID) throws {
        try write { db in try db.execute(sql: "DELETE FROM community_communities WHERE id = ?", arguments: [Data(id.bytes)]) }
    }

    // MARK: - Members

    public func saveMember(_ member: MemberRecord) throws {
        let services = String(decoding: try JSONEncoder().encode(member.services), as: UTF8.self)
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO community_members
                        (community_id, node_id, public_key, role, services, credential, contact, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(member.communityID.bytes), Data(member.nodeID.bytes), Data(member.publicKey), member.role.rawValue, services,
                    member.credential.map { Data($0.encoded) }, member.contact, member.updatedAt.milliseconds,
                ])
        }
    }

    @discardableResult
    public func removeMember(_ nodeID: NodeID, from community: CommunityID) throws -> Bool {
        try write { db in
            try db.execute(
                sql: "DELETE FROM community_members WHERE community_id = ? AND node_id = ?", arguments: [Data(community.bytes), Data(nodeID.bytes)])
            return db.changesCount > 0
        }
    }

    public func members(of community: CommunityID) throws -> [MemberRecord] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM community_members WHERE community_id = ? ORDER BY role, node_id", arguments: [Data(community.bytes)]
            ).map { row throws in
                let roleText: String = row["role"]
                guard let role = MemberRole(rawValue: roleText) else {
                    throw CommunityError(.malformed, "malformed stored member role: unknown role \(roleText)")
                }
                let servicesText: String = row["services"]
                return MemberRecord(
                    communityID: community, publicKey: [UInt8](row["public_key"] as Data), role: role,
                    services: try JSONDecoder().decode([String].self, from: Data(servicesText.utf8)),
                    credential: try (row["credential"] as Data?).map { try MembershipCredential(decoding: [UInt8]($0)) },
                    contact: row["contact"], updatedAt: OverlayInstant(milliseconds: row["updated_at"]))
            }
        }
    }

    // MARK: - Sub-communities

    public func saveSubCommunity(_ charter: SubCommunityCharter) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO community_subcommunities (community_id, name, policy, charter) VALUES (?, ?, ?, ?)
                    ON CONFLICT (community_id, name) DO UPDATE SET policy = excluded.policy, charter = excluded.charter
                    """,
                arguments: [Data(charter.communityID.bytes), charter.name, charter.policy.rawValue, Data(charter.encoded)])
        }
    }

    public func subCommunities(of community: CommunityID) throws -> [SubCommunityCharter] {
        try read { db in
            try Data.fetchAll(
                db, sql: "SELECT charter FROM community_subcommunities WHERE community_id = ? ORDER BY name", arguments: [Data(community.bytes)]
            ).map { data throws in try SubCommunityCharter(decoding: [UInt8](data)) }
        }
    }

    public func saveSubCommunityCertificate(_ certificate: MemberCertificate) throws {
        guard let name = certificate.subCommunity else {
            throw CommunityError(.notAllowed, "a community certificate is not a sub-community certificate; store it with saveMember or saveCommunity")
        }
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO community_subcommunity_certificates (community_id, sub_name, node_id, issued_at, certificate)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(certificate.communityID.bytes), name, Data(certificate.nodeID.bytes), certificate.issuedAt.milliseconds,
                    Data(certificate.encoded),
                ])
        }
    }

    public func subCommunityCertificates(of community: CommunityID) throws -> [MemberCertificate] {
        try read { db in
            try Data.fetchAll(
                db, sql: "SELECT certificate FROM community_subcommunity_certificates WHERE community_id = ? ORDER BY sub_name, node_id",
                arguments: [Data(community.bytes)]
            ).map { data throws in try MemberCertificate(decoding: [UInt8](data)) }
        }
    }

    public func saveSubCommunityStatement(_ statement: SubCommunityStatement) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO community_subcommunity_statements (community_id, sub_name, kind, subject, at, statement)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(statement.communityID.bytes), statement.subCommunity, Int(statement.kind.rawValue), Data(statement.subjectKey),
                    statement.at.milliseconds, Data(statement.encoded),
                ])
        }
    }

    public func subCommunityStatements(of community: CommunityID) throws -> [SubCommunityStatement] {
        try read { db in
            try Data.fetchAll(
                db, sql: "SELECT statement FROM community_subcommunity_statements WHERE community_id = ? ORDER BY at, id",
                arguments: [Data(community.bytes)]
            ).map { data throws in try SubCommunityStatement(decoding: [UInt8](data)) }
        }
    }

    // MARK: - Revocations and nonces

    public func saveRevocation(_ revocation: Revocation) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO community_revocations (community_id, revoked_key, revoked_at, issuer_key, revocation) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (community_id, revoked_key) DO UPDATE SET
                        revoked_at = excluded.revoked_at, issuer_key = excluded.issuer_key, revocation = excluded.revocation
                    WHERE excluded.revoked_at < community_revocations.revoked_at
                    """,
                arguments: [
                    Data(revocation.communityID.bytes), Data(revocation.revokedKey), revocation.revokedAt.milliseconds,
                    Data(revocation.issuerKey), Data(revocation.encoded),
                ])
        }
    }

    public func revocations(of community: CommunityID) throws -> [Revocation] {
        try read { db in
            try Data.fetchAll(
                db, sql: "SELECT revocation FROM community_revocations WHERE community_id = ? ORDER BY revoked_at, revoked_key",
                arguments: [Data(community.bytes)]
            ).map { data throws in try Revocation(decoding: [UInt8](data)) }
        }
    }

    public func markInvitationNonceUsed(_ nonce: [UInt8], in community: CommunityID, at time: OverlayInstant) throws -> Bool {
        try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO community_used_nonces (community_id, nonce, used_at) VALUES (?, ?, ?)",
                arguments: [Data(community.bytes), Data(nonce), time.milliseconds])
            return db.changesCount > 0
        }
    }

    public func usedInvitationNonces(of community: CommunityID) throws -> Set<[UInt8]> {
        try read { db in
            Set(
                try Data.fetchAll(db, sql: "SELECT nonce FROM community_used_nonces WHERE community_id = ?", arguments: [Data(community.bytes)])
                    .map { [UInt8]($0) })
        }
    }

    // MARK: - Plumbing

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.writer.read(body)
        } catch let error as CommunityError {
            throw error
        } catch {
            throw StorageError(error, database: database.name)
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.writer.write(body)
        } catch {
            throw StorageError(error, database: database.name)
        }
    }
}
