import Overlay
import Testing

@testable import Community

private let start = CommunityFixture.start

@Test func strangerWithItsOwnFoundingKeyAndSameNameIsNotAMember() throws {
    let fixture = try CommunityFixture(name: "north-street")
    // The rogue founds a look-alike community with the same name and presents its owner certificate.
    let rogue = NodeIdentity.generate()
    let lookalike = try Community.found(name: "north-street", founder: rogue, now: start)
    let error = communityError { _ = try MembershipVerifier(community: fixture.community).verify(lookalike.founderCredential, now: start) }
    #expect(error?.code == .foreign, "a different founding key gives a different community ID")
}

@Test func selfSignedCertificateForTheRightCommunityDoesNotChainToTheFoundingKey() throws {
    let fixture = try CommunityFixture()
    let rogue = NodeIdentity.generate()
    let forged = MemberCertificate.issue(
        community: fixture.community.id, subCommunity: nil, subject: rogue.publicKey, role: .owner, issuedAt: start,
        expiry: start.advanced(by: .seconds(3600)), by: rogue)
    let error = communityError {
        _ = try MembershipVerifier(community: fixture.community).verify(MembershipCredential(certificates: [forged]), now: start)
    }
    #expect(error?.code == .untrustedChain)
}

@Test func certificateWithAChangedRoleFailsItsSignature() throws {
    var fixture = try CommunityFixture()
    let member = try fixture.admit()
    let leaf = try #require(member.credential.leaf)
    let promoted = MemberCertificate(
        communityID: leaf.communityID, subCommunity: nil, subjectKey: leaf.subjectKey, role: .owner, issuedAt: leaf.issuedAt,
        expiry: leaf.expiry, issuerKey: leaf.issuerKey, signature: leaf.signature)
    let credential = MembershipCredential(certificates: [promoted] + member.credential.certificates.dropFirst())
    let error = communityError { _ = try MembershipVerifier(community: fixture.community).verify(credential, now: start) }
    #expect(error?.code == .badSignature)
}

@Test func plainMemberCannotIssueCertificates() throws {
    var fixture = try CommunityFixture()
    let member = try fixture.admit(role: .member)
    let friend = NodeIdentity.generate()
    let certificate = MemberCertificate.issue(
        community: fixture.community.id, subCommunity: nil, subject: friend.publicKey, role: .member, issuedAt: start,
        expiry: start.advanced(by: .seconds(3600)), by: member.identity)
    let credential = MembershipCredential(certificates: [certificate] + member.credential.certificates)
    let error = communityError { _ = try MembershipVerifier(community: fixture.community).verify(credential, now: start) }
    #expect(error?.code == .notAllowed)
}

@Test func expiredCertificateSaysWhen() throws {
    var fixture = try CommunityFixture()
    let identity = NodeIdentity.generate()
    let invitation = try fixture.founder.invite(expiry: start.advanced(by: .seconds(60)), bootstrap: [], now: start)
    let admission = try fixture.founder.admit(JoinRequest(invitation: invitation, joiner: identity), now: start, validity: .seconds(100))
    let verifier = MembershipVerifier(community: fixture.community)
    _ = try verifier.verify(admission.credential, now: start.advanced(by: .seconds(99)))
    let error = communityError { _ = try verifier.verify(admission.credential, now: start.advanced(by: .seconds(100))) }
    #expect(error?.code == .expired)
    #expect(error?.message.contains(start.advanced(by: .seconds(100)).iso8601) == true)
}

@Test func revocationTravelsAsBytesAndIsVerifiedOfflineByAnotherMember() throws {
    var fixture = try CommunityFixture()
    var admin = try fixture.admit(role: .admin)
    let member = try fixture.admit(role: .member)
    let revocation = try admin.revoke(member.identity.publicKey, reason: "sold the house", now: start.advanced(by: .seconds(30)))
    // Another member, knowing only the community (name + founding key), checks the bytes it received.
    var elsewhere = MembershipVerifier(community: fixture.community)
    _ = try elsewhere.verify(member.credential, now: start.advanced(by: .seconds(31)))
    let received = try Revocation(decoding: revocation.encoded)
    #expect(received == revocation)
    try elsewhere.accept(received, now: start.advanced(by: .seconds(31)))
    let error = communityError { _ = try elsewhere.verify(member.credential, now: start.advanced(by: .seconds(31))) }
    #expect(error?.code == .revoked)
    #expect(error?.message.contains("sold the house") == true)
    #expect(error?.message.contains(admin.identity.nodeID.shortDescription) == true, "says by whom")
}

@Test func revocationSignedByAPlainMemberOrAStrangerIsRefused() throws {
    var fixture = try CommunityFixture()
    let member = try fixture.admit(role: .member)
    let victim = try fixture.admit(role: .member)
    var verifier = MembershipVerifier(community: fixture.community)
    let byMember = Revocation.sign(
        revoking: victim.identity.publicKey, in: fixture.community.id, at: start, reason: "", by: member.identity, credential: member.credential)
    #expect(communityError { try verifier.accept(byMember, now: start) }?.code == .notAllowed)
    let stranger = NodeIdentity.generate()
    let byStranger = Revocation.sign(
        revoking: victim.identity.publicKey, in: fixture.community.id, at: start, reason: "", by: stranger, credential: nil)
    #expect(communityError { try verifier.accept(byStranger, now: start) }?.code == .untrustedChain)
    #expect(verifier.revocations.count == 0)
}

@Test func foundingKeyCanRevokeAnyoneIncludingAnOwner() throws {
    let fixture = try CommunityFixture()
    var verifier = MembershipVerifier(community: fixture.community)
    let revocation = Revocation.sign(
        revoking: fixture.founderIdentity.publicKey, in: fixture.community.id, at: start, reason: "key lost",
        by: fixture.founding.foundingKey, credential: nil)
    try verifier.accept(revocation, now: start)
    #expect(communityError { _ = try verifier.verify(fixture.founder.credential, now: start) }?.code == .revoked)
}

@Test func revokingAnAdminInvalidatesTheMembersItAdmitted() throws {
    var fixture = try CommunityFixture()
    var admin = try fixture.admit(role: .admin)
    let member = try fixture.admit(role: .member, by: &admin)
    _ = try fixture.founder.revoke(admin.identity.publicKey, reason: "", now: start)
    let error = communityError { _ = try fixture.founder.verifier.verify(member.credential, now: start) }
    #expect(error?.code == .revokedIssuer)
}

@Test func revocationSetEncodesForTheOverlayAndDecodesBack() throws {
    var fixture = try CommunityFixture()
    let a = try fixture.admit()
    let b = try fixture.admit()
    _ = try fixture.founder.revoke(a.identity.publicKey, reason: "a", now: start)
    _ = try fixture.founder.revoke(b.identity.publicKey, reason: "b", now: start.advanced(by: .seconds(1)))
    let set = fixture.founder.verifier.revocations
    let record = set.record(community: fixture.community.id, sequence: 1, expiry: start.advanced(by: .seconds(3600)), by: fixture.founderIdentity)
    try record.verify(now: start)
    #expect(record.kind == .membership)
    #expect(record.value.count < ResourceRecord.maximumValueSize)
    let decoded = try RevocationSet.decode(record.value)
    #expect(decoded == set.all)
    var fresh = MembershipVerifier(community: fixture.community)
    for revocation in decoded { try fresh.accept(revocation, now: start.advanced(by: .seconds(2))) }
    #expect(fresh.revocations == set)
}

@Test func memberCannotRejoinWithARevokedKey() throws {
    var fixture = try CommunityFixture()
    let member = try fixture.admit()
    _ = try fixture.founder.revoke(member.identity.publicKey, reason: "", now: start)
    let invitation = try fixture.founder.invite(expiry: start.advanced(by: .seconds(60)), bootstrap: [], now: start)
    let error = communityError { _ = try fixture.founder.admit(JoinRequest(invitation: invitation, joiner: member.identity), now: start) }
    #expect(error?.code == .revoked)
}
