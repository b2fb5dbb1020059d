import Overlay
import Testing

@testable import Community

private let start = CommunityFixture.start

@Test func approvalPolicyKeepsARequestPendingUntilAnOwnerApproves() throws {
    var fixture = try CommunityFixture()
    let b = try fixture.admit()
    let c = try fixture.admit()
    let charter = try SubCommunityCharter.create(name: "surveillance/north-street", policy: .approval, by: b, now: start)
    var sub = try SubCommunity(charter: SubCommunityCharter(decoding: charter.encoded), membership: fixture.founder.verifier, now: start)
    let request = SubCommunityStatement.sign(
        .joinRequest, subject: c.identity.publicKey, in: sub.name, of: fixture.community.id, at: start, by: c.identity)
    let decision = try sub.receive(
        joinRequest: SubCommunityStatement(decoding: request.encoded), credential: c.credential, membership: fixture.founder.verifier, now: start)
    #expect(decision == .awaitingApproval)
    #expect(sub.pending[c.identity.nodeID] != nil)
    #expect(communityError { _ = try sub.approve(c.identity.nodeID, by: c.identity, now: start) }?.code == .notAllowed, "only owners approve")
    let (certificate, event) = try sub.approve(c.identity.nodeID, by: b.identity, now: start)
    #expect(event.kind == .approved)
    #expect(event.subCommunity == "surveillance/north-street")
    #expect(sub.members[c.identity.nodeID] == certificate)
    try sub.verify(certificate, membership: fixture.founder.verifier, now: start)
}

@Test func openPolicyAdmitsAtOnceAndInvitePolicyOnlyTheInvited() throws {
    var fixture = try CommunityFixture()
    let owner = try fixture.admit()
    let c = try fixture.admit()
    var open = try SubCommunity(
        charter: try SubCommunityCharter.create(name: "energy/feeder-7", policy: .open, by: owner, now: start), membership: fixture.founder.verifier,
        now: start)
    let request = SubCommunityStatement.sign(.joinRequest, subject: c.identity.publicKey, in: "energy/feeder-7", of: fixture.community.id, at: start, by: c.identity)
    #expect(try open.receive(joinRequest: request, credential: c.credential, membership: fixture.founder.verifier, now: start) == .approveNow)

    var closed = try SubCommunity(
        charter: try SubCommunityCharter.create(name: "energy/feeder-8", policy: .invite, by: owner, now: start), membership: fixture.founder.verifier,
        now: start)
    let asking = SubCommunityStatement.sign(.joinRequest, subject: c.identity.publicKey, in: "energy/feeder-8", of: fixture.community.id, at: start, by: c.identity)
    #expect(communityError { _ = try closed.receive(joinRequest: asking, credential: c.credential, membership: fixture.founder.verifier, now: start) }?.code == .notAllowed)
    _ = try closed.invite(c.identity.publicKey, by: owner.identity, now: start)
    #expect(try closed.receive(joinRequest: asking, credential: c.credential, membership: fixture.founder.verifier, now: start) == .approveNow)
}

@Test func joinRequestFromANonMemberIsRefused() throws {
    var fixture = try CommunityFixture()
    let owner = try fixture.admit()
    var sub = try SubCommunity(
        charter: try SubCommunityCharter.create(name: "surveillance/a", policy: .open, by: owner, now: start), membership: fixture.founder.verifier,
        now: start)
    let rogue = NodeIdentity.generate()
    let rogueCommunity = try Community.found(name: "north-street", founder: rogue, now: start)
    let request = SubCommunityStatement.sign(.joinRequest, subject: rogue.publicKey, in: "surveillance/a", of: fixture.community.id, at: start, by: rogue)
    let error = communityError {
        _ = try sub.receive(joinRequest: request, credential: rogueCommunity.founderCredential, membership: fixture.founder.verifier, now: start)
    }
    #expect(error?.code == .foreign)
    #expect(sub.pending.isEmpty)
}

@Test func removedOrLeftMemberCertificateStopsVerifyingButARejoinWorks() throws {
    var fixture = try CommunityFixture()
    let owner = try fixture.admit()
    let c = try fixture.admit()
    let verifier = fixture.founder.verifier
    var sub = try SubCommunity(
        charter: try SubCommunityCharter.create(name: "surveillance/b", policy: .open, by: owner, now: start), membership: verifier, now: start)
    let request = SubCommunityStatement.sign(.joinRequest, subject: c.identity.publicKey, in: "surveillance/b", of: fixture.community.id, at: start, by: c.identity)
    _ = try sub.receive(joinRequest: request, credential: c.credential, membership: verifier, now: start)
    let first = try sub.approve(c.identity.nodeID, by: owner.identity, now: start).certificate

    // Another node learns of the removal through the signed statement.
    var elsewhere = try SubCommunity(charter: sub.charter, membership: verifier, now: start)
    try elsewhere.record(first, membership: verifier, now: start)
    let removal = try sub.remove(c.identity.publicKey, by: owner.identity, now: start.advanced(by: .seconds(10)))
    #expect(removal.event.kind == .removed)
    let event = try elsewhere.apply(SubCommunityStatement(decoding: removal.statement.encoded))
    #expect(event.kind == .removed)
    #expect(elsewhere.members[c.identity.nodeID] == nil)
    #expect(communityError { try elsewhere.verify(first, membership: verifier, now: start.advanced(by: .seconds(11))) }?.code == .revoked)

    // A non-owner's removal statement is refused.
    let forged = SubCommunityStatement.sign(.removal, subject: owner.identity.publicKey, in: "surveillance/b", of: fixture.community.id, at: start, by: c.identity)
    #expect(communityError { _ = try elsewhere.apply(forged) }?.code == .notAllowed)

    // Rejoining yields a newer certificate that verifies.
    let again = SubCommunityStatement.sign(
        .joinRequest, subject: c.identity.publicKey, in: "surveillance/b", of: fixture.community.id, at: start.advanced(by: .seconds(20)), by: c.identity)
    _ = try sub.receive(joinRequest: again, credential: c.credential, membership: verifier, now: start.advanced(by: .seconds(20)))
    let second = try sub.approve(c.identity.nodeID, by: owner.identity, now: start.advanced(by: .seconds(20))).certificate
    try elsewhere.verify(second, membership: verifier, now: start.advanced(by: .seconds(21)))

    // Leaving is signed by the member itself.
    let leave = SubCommunityStatement.sign(
        .leave, subject: c.identity.publicKey, in: "surveillance/b", of: fixture.community.id, at: start.advanced(by: .seconds(30)), by: c.identity)
    #expect(try elsewhere.apply(leave).kind == .left)
    #expect(communityError { try elsewhere.verify(second, membership: verifier, now: start.advanced(by: .seconds(31))) }?.code == .revoked)
}

@Test func subCommunityCertificateSignedByANonOwnerIsRefused() throws {
    var fixture = try CommunityFixture()
    let owner = try fixture.admit()
    let other = try fixture.admit()
    let verifier = fixture.founder.verifier
    let sub = try SubCommunity(
        charter: try SubCommunityCharter.create(name: "surveillance/c", policy: .open, by: owner, now: start), membership: verifier, now: start)
    let certificate = MemberCertificate.issue(
        community: fixture.community.id, subCommunity: "surveillance/c", subject: other.identity.publicKey, role: .member, issuedAt: start,
        expiry: start.advanced(by: .seconds(60)), by: other.identity)
    #expect(communityError { try sub.verify(certificate, membership: verifier, now: start) }?.code == .untrustedChain)
}

@Test func charterFromARevokedCreatorIsRefused() throws {
    var fixture = try CommunityFixture()
    let b = try fixture.admit()
    let charter = try SubCommunityCharter.create(name: "surveillance/d", policy: .open, by: b, now: start)
    _ = try fixture.founder.revoke(b.identity.publicKey, reason: "", now: start)
    #expect(communityError { _ = try SubCommunity(charter: charter, membership: fixture.founder.verifier, now: start) }?.code == .revokedIssuer)
}

@Test func aNodeHoldsMembershipsOfSeveralCommunitiesIndependently() throws {
    var first = try CommunityFixture(name: "north-street")
    var second = try CommunityFixture(name: "harbour-coop")
    let node = NodeIdentity.generate()
    let one = try first.founder.admit(
        JoinRequest(invitation: try first.founder.invite(expiry: start.advanced(by: .seconds(60)), bootstrap: [], now: start), joiner: node), now: start)
    let two = try second.founder.admit(
        JoinRequest(invitation: try second.founder.invite(expiry: start.advanced(by: .seconds(60)), bootstrap: [], now: start), joiner: node), now: start)
    let inFirst = try CommunityMember(identity: node, credential: one.credential, community: first.community, now: start)
    let inSecond = try CommunityMember(identity: node, credential: two.credential, community: second.community, now: start)
    #expect(inFirst.community.id != inSecond.community.id)
    #expect(communityError { _ = try first.founder.verifier.verify(two.credential, now: start) }?.code == .foreign)
}
