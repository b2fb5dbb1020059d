import Overlay
import Testing

@testable import Community

private let start = CommunityFixture.start

@Test func invitationIsOneURLSafeLineWithAVersionPrefixAndRoundTrips() throws {
    let fixture = try CommunityFixture()
    let invitation = try fixture.founder.invite(
        role: .admin, expiry: start.advanced(by: .seconds(86_400)), bootstrap: ["sip:192.0.2.7:5060", "sip:192.0.2.8:5060;transport=tcp"], now: start)
    let text = invitation.text
    #expect(text.hasPrefix("smf1."))
    #expect(text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." })
    let parsed = try Invitation(text: "  \(text)\n")
    #expect(parsed == invitation)
    #expect(parsed.community == fixture.community)
    #expect(parsed.role == .admin)
    #expect(parsed.bootstrap == ["sip:192.0.2.7:5060", "sip:192.0.2.8:5060;transport=tcp"])
    #expect(parsed.nonce.count == 16)
}

@Test func redeemingAnInvitationIssuesACertificateForTheJoinersKey() throws {
    var fixture = try CommunityFixture()
    let joiner = NodeIdentity.generate()
    let invitation = try fixture.founder.invite(role: .member, expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    let request = try JoinRequest(text: JoinRequest(invitation: invitation, joiner: joiner).text)
    let admission = try fixture.founder.admit(request, now: start.advanced(by: .seconds(10)))
    let verified = try MembershipVerifier(community: fixture.community).verify(admission.credential, now: start.advanced(by: .seconds(20)))
    #expect(verified.nodeID == joiner.nodeID)
    #expect(verified.role == .member)
    #expect(admission.event.kind == .joined)
    #expect(admission.event.member == joiner.nodeID)
    #expect(fixture.founder.usedNonces.contains(invitation.nonce))
}

@Test func expiredInvitationSaysWhenItExpired() throws {
    var fixture = try CommunityFixture()
    let expiry = start.advanced(by: .seconds(60))
    let invitation = try fixture.founder.invite(expiry: expiry, bootstrap: [], now: start)
    let error = communityError {
        _ = try fixture.founder.admit(JoinRequest(invitation: invitation, joiner: NodeIdentity.generate()), now: start.advanced(by: .seconds(61)))
    }
    #expect(error?.code == .expired)
    #expect(error?.message.contains(expiry.iso8601) == true, "\(error?.message ?? "")")
}

@Test func invitationFromAnotherCommunityNamesThatCommunity() throws {
    var home = try CommunityFixture(name: "north-street")
    let other = try CommunityFixture(name: "harbour-coop")
    let invitation = try other.founder.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    let error = communityError {
        _ = try home.founder.admit(JoinRequest(invitation: invitation, joiner: NodeIdentity.generate()), now: start)
    }
    #expect(error?.code == .foreign)
    #expect(error?.message.contains("\"harbour-coop\"") == true)
    #expect(error?.message.contains("\"north-street\"") == true)
}

@Test(arguments: [
    ("hello", "invitation"),
    ("smf1.abc", "3 dot-separated parts"),
    ("smf1.a*b.c", "invitation payload"),
    ("smf1.AAAA.AAAA", "invitation signature"),
])
func malformedInvitationNamesTheBrokenPart(text: String, part: String) {
    let error = communityError { _ = try Invitation(text: text) }
    #expect(error?.code == .malformed)
    #expect(error?.message.contains(part) == true, "\(error?.message ?? "")")
}

@Test func truncatedPayloadNamesTheFieldItStoppedIn() throws {
    let fixture = try CommunityFixture()
    let invitation = try fixture.founder.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    let truncated = Array(invitation.payload.prefix(40))
    let text = "smf1.\(Base64URL.encode(truncated)).\(Base64URL.encode(invitation.signature))"
    let error = communityError { _ = try Invitation(text: text) }
    #expect(error?.code == .malformed)
    #expect(error?.message.contains("founding key") == true, "\(error?.message ?? "")")
}

@Test func unknownTokenVersionIsReportedAsSuch() throws {
    let fixture = try CommunityFixture()
    let text = try fixture.founder.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start).text
    let error = communityError { _ = try Invitation(text: "smf2." + text.dropFirst(5)) }
    #expect(error?.code == .wrongVersion)
    #expect(error?.message.contains("smf2") == true)
}

@Test func tamperedInvitationFailsItsSignature() throws {
    var fixture = try CommunityFixture()
    let invitation = try fixture.founder.invite(role: .member, expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    // Re-encode with the role raised to owner but the original signature.
    let forged = Invitation(
        community: invitation.community, role: .owner, expiry: invitation.expiry, nonce: invitation.nonce,
        issuerCredential: invitation.issuerCredential, bootstrap: invitation.bootstrap, signature: invitation.signature)
    let parsed = try Invitation(text: forged.text)
    let error = communityError { _ = try fixture.founder.admit(JoinRequest(invitation: parsed, joiner: NodeIdentity.generate()), now: start) }
    #expect(error?.code == .badSignature)
}

@Test func invitationNonceIsAcceptedOnlyOnce() throws {
    var fixture = try CommunityFixture()
    let invitation = try fixture.founder.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    _ = try fixture.founder.admit(JoinRequest(invitation: invitation, joiner: NodeIdentity.generate()), now: start)
    let error = communityError { _ = try fixture.founder.admit(JoinRequest(invitation: invitation, joiner: NodeIdentity.generate()), now: start) }
    #expect(error?.code == .nonceAlreadyUsed)
}

@Test func invitationFromARevokedAdminIsRefused() throws {
    var fixture = try CommunityFixture()
    let admin = try fixture.admit(role: .admin)
    let invitation = try admin.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    _ = try fixture.founder.revoke(admin.identity.publicKey, reason: "moved away", now: start.advanced(by: .seconds(5)))
    let error = communityError {
        _ = try fixture.founder.admit(JoinRequest(invitation: invitation, joiner: NodeIdentity.generate()), now: start.advanced(by: .seconds(6)))
    }
    #expect(error?.code == .revokedIssuer)
    #expect(error?.message.contains("moved away") == true)
}

@Test func joinRequestSignedWithAnotherKeyDoesNotProvePossession() throws {
    var fixture = try CommunityFixture()
    let invitation = try fixture.founder.invite(expiry: start.advanced(by: .seconds(600)), bootstrap: [], now: start)
    let honest = JoinRequest(invitation: invitation, joiner: NodeIdentity.generate())
    let stolen = JoinRequest(invitation: invitation, joinerKey: NodeIdentity.generate().publicKey, signature: honest.signature)
    let error = communityError { _ = try fixture.founder.admit(stolen, now: start) }
    #expect(error?.code == .badSignature)
    #expect(fixture.founder.usedNonces.isEmpty, "a refused join does not use up the invitation")
}

@Test func plainMembersCannotInviteAndAdminsCannotInviteOwners() throws {
    var fixture = try CommunityFixture()
    let member = try fixture.admit(role: .member)
    #expect(communityError { _ = try member.invite(expiry: start.advanced(by: .seconds(60)), bootstrap: [], now: start) }?.code == .notAllowed)
    let admin = try fixture.admit(role: .admin)
    #expect(communityError { _ = try admin.invite(role: .owner, expiry: start.advanced(by: .seconds(60)), bootstrap: [], now: start) }?.code == .notAllowed)
}

@Test func adminAdmittedMembersChainThroughTheAdminToTheFoundingKey() throws {
    var fixture = try CommunityFixture()
    var admin = try fixture.admit(role: .admin)
    let member = try fixture.admit(role: .member, by: &admin)
    #expect(member.credential.certificates.count == 3)
    let verified = try MembershipVerifier(community: fixture.community).verify(member.credential, now: start)
    #expect(verified.nodeID == member.identity.nodeID)
}
