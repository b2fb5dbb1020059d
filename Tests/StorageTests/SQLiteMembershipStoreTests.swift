import Community
import Foundation
import Logging
import Overlay
import Testing

@testable import Storage

private let logger = Logger(label: "smf.storage.community.test")
private let start = OverlayInstant(milliseconds: 1_795_000_000_000)

/// A data directory removed when the test ends.
private struct DataDirectory: ~Copyable {
    let path = NSTemporaryDirectory() + "smf-membership-\(UUID().uuidString)"
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A founded community with one admitted member and a sub-community with approval policy.
private struct Scenario {
    let founderIdentity = NodeIdentity.generate()
    let memberIdentity = NodeIdentity.generate()
    let founding: CommunityFounding
    var founder: CommunityMember
    let member: CommunityMember
    let nonce: [UInt8]
    let charter: SubCommunityCharter
    let subCertificate: MemberCertificate
    let request: SubCommunityStatement
    let revocation: Revocation

    init() throws {
        founding = try Community.found(name: "north-street", founder: founderIdentity, now: start)
        founder = try CommunityMember(founding: founding, identity: founderIdentity, now: start)
        let invitation = try founder.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: ["sip:127.0.0.1:5060"], now: start)
        let admission = try founder.admit(JoinRequest(invitation: invitation, joiner: memberIdentity), now: start)
        nonce = admission.nonce
        member = try CommunityMember(identity: memberIdentity, credential: admission.credential, community: founding.community, now: start)
        charter = try SubCommunityCharter.create(name: "surveillance/north-street", policy: .approval, by: founder, now: start)
        var sub = try SubCommunity(charter: charter, membership: founder.verifier, now: start)
        request = .sign(.joinRequest, subject: memberIdentity.publicKey, in: charter.name, of: founding.community.id, at: start, by: memberIdentity)
        _ = try sub.receive(joinRequest: request, credential: member.credential, membership: founder.verifier, now: start)
        subCertificate = try sub.approve(memberIdentity.nodeID, by: founderIdentity, now: start).certificate
        let outsider = NodeIdentity.generate()
        revocation = try founder.revoke(outsider.publicKey, reason: "lost device", now: start.advanced(by: .seconds(1)))
    }
}

private func fill(_ store: SQLiteMembershipStore, with scenario: Scenario) throws {
    let id = scenario.founding.community.id
    try store.saveCommunity(
        StoredCommunity(
            community: scenario.founding.community, credential: scenario.founding.founderCredential, foundingKeyPath: "/data/community.key",
            joinedAt: start))
    try store.saveMember(
        MemberRecord(communityID: id, publicKey: scenario.founderIdentity.publicKey, role: .owner, services: [], updatedAt: start))
    try store.saveMember(
        MemberRecord(
            communityID: id, publicKey: scenario.memberIdentity.publicKey, role: .member, services: ["camera", "smoke-detector"],
            credential: scenario.member.credential, contact: "sip:smf@192.0.2.7:5060", updatedAt: start))
    try store.saveSubCommunity(scenario.charter)
    try store.saveSubCommunityStatement(scenario.request)
    try store.saveSubCommunityCertificate(scenario.subCertificate)
    try store.saveRevocation(scenario.revocation)
    #expect(try store.markInvitationNonceUsed(scenario.nonce, in: id, at: start))
}

@Test func everyPartOfMembershipSurvivesReopeningTheDatabase() throws {
    let directory = DataDirectory()
    let scenario = try Scenario()
    let id = scenario.founding.community.id
    do {
        let database = try SMFDatabase(directory: directory.path, logger: logger)
        try fill(SQLiteMembershipStore(database: database), with: scenario)
    }
    let reopened = SQLiteMembershipStore(database: try SMFDatabase(directory: directory.path, logger: logger))

    let communities = try reopened.communities()
    #expect(communities.count == 1)
    #expect(communities.first?.community == scenario.founding.community)
    #expect(communities.first?.credential == scenario.founding.founderCredential)
    #expect(communities.first?.foundingKeyPath == "/data/community.key")

    let members = try reopened.members(of: id)
    #expect(members.map(\.nodeID).sorted() == [scenario.founderIdentity.nodeID, scenario.memberIdentity.nodeID].sorted())
    let member = try #require(members.first { $0.nodeID == scenario.memberIdentity.nodeID })
    #expect(member.services == ["camera", "smoke-detector"])
    #expect(member.role == .member)
    #expect(member.credential == scenario.member.credential)
    #expect(member.contact == "sip:smf@192.0.2.7:5060", "the contact (migration v8-community-contacts) survives")
    #expect(members.first { $0.nodeID == scenario.founderIdentity.nodeID }?.contact == nil)

    #expect(try reopened.subCommunities(of: id) == [scenario.charter])
    #expect(try reopened.subCommunityCertificates(of: id) == [scenario.subCertificate])
    #expect(try reopened.subCommunityStatements(of: id) == [scenario.request])
    #expect(try reopened.revocations(of: id) == [scenario.revocation])
    #expect(try reopened.usedInvitationNonces(of: id) == [scenario.nonce])
    #expect(try !reopened.markInvitationNonceUsed(scenario.nonce, in: id, at: start), "a redeemed nonce stays redeemed after a restart")

    // The restored state verifies and rebuilds the node's view: the revocation applies, the member's
    // sub-community certificate is recorded and its approved request is no longer pending.
    var verifier = MembershipVerifier(community: scenario.founding.community)
    for revocation in try reopened.revocations(of: id) { try verifier.accept(revocation, now: start.advanced(by: .seconds(2))) }
    #expect(verifier.revocations.isRevoked(scenario.revocation.revokedKey))
    let sub = try SubCommunity.restore(
        charter: try #require(try reopened.subCommunities(of: id).first), certificates: try reopened.subCommunityCertificates(of: id),
        statements: try reopened.subCommunityStatements(of: id), membership: verifier, now: start.advanced(by: .seconds(2)))
    #expect(sub.members[scenario.memberIdentity.nodeID] == scenario.subCertificate)
    #expect(sub.pending.isEmpty)
}

@Test func leavingACommunityRemovesEverythingStoredForIt() throws {
    let scenario = try Scenario()
    let id = scenario.founding.community.id
    let store = SQLiteMembershipStore(database: try SMFDatabase.inMemory(logger: logger))
    try fill(store, with: scenario)
    try store.removeCommunity(id)
    #expect(try store.communities().isEmpty)
    #expect(try store.members(of: id).isEmpty)
    #expect(try store.subCommunities(of: id).isEmpty)
    #expect(try store.subCommunityCertificates(of: id).isEmpty)
    #expect(try store.revocations(of: id).isEmpty)
    #expect(try store.usedInvitationNonces(of: id).isEmpty)
}

@Test func twoCommunitiesOnOneNodeKeepSeparateRecords() throws {
    let first = try Scenario()
    let second = try Scenario()
    let store = SQLiteMembershipStore(database: try SMFDatabase.inMemory(logger: logger))
    try fill(store, with: first)
    try fill(store, with: second)
    #expect(try store.communities().count == 2, "same name, different founding keys")
    #expect(try store.revocations(of: first.founding.community.id) == [first.revocation])
    #expect(try store.members(of: second.founding.community.id).allSatisfy { $0.communityID == second.founding.community.id })
    #expect(try store.removeMember(first.memberIdentity.nodeID, from: second.founding.community.id) == false)
    #expect(try store.removeMember(first.memberIdentity.nodeID, from: first.founding.community.id))
    #expect(try store.members(of: first.founding.community.id).count == 1)
}

@Test func earliestRevocationOfAKeyIsKept() throws {
    let scenario = try Scenario()
    let store = SQLiteMembershipStore(database: try SMFDatabase.inMemory(logger: logger))
    try fill(store, with: scenario)
    let later = Revocation.sign(
        revoking: scenario.revocation.revokedKey, in: scenario.founding.community.id, at: start.advanced(by: .seconds(50)), reason: "again",
        by: scenario.founderIdentity, credential: scenario.founder.credential)
    try store.saveRevocation(later)
    #expect(try store.revocations(of: scenario.founding.community.id) == [scenario.revocation])
}

@Test func memberOfAnUnknownCommunityIsRefusedByTheSchema() throws {
    let scenario = try Scenario()
    let store = SQLiteMembershipStore(database: try SMFDatabase.inMemory(logger: logger))
    #expect(throws: StorageError.self) {
        try store.saveMember(
            MemberRecord(communityID: scenario.founding.community.id, publicKey: scenario.memberIdentity.publicKey, role: .member, updatedAt: start))
    }
}
