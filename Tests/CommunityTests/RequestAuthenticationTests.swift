import NIOCore
import Overlay
import SIPSyntax
import Testing

@testable import Community

private let start = CommunityFixture.start

private func notify(body: String = "<alarm building=\"7\" kind=\"smoke\"/>") throws -> SIPRequest {
    SIPRequest(
        method: SIPMethod("NOTIFY"), uri: try SIPURI(parsing: "sip:service@192.0.2.10:5062"),
        headers: SIPHeaders([
            ("Via", "SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bK776asdhds"),
            ("Max-Forwards", "70"),
            ("From", "<sip:sensor@192.0.2.11>;tag=1928301774"),
            ("To", "<sip:service@192.0.2.10>;tag=a6c85cf"),
            ("Call-ID", "a84b4c76e66710@192.0.2.11"),
            ("CSeq", "4 NOTIFY"),
            ("Event", "surveillance-alarm"),
            ("Subscription-State", "active;expires=600"),
            ("Content-Type", "application/xml"),
        ]),
        body: ByteBuffer(string: body))
}

/// The request as the receiver sees it: serialised and parsed back.
private func overTheWire(_ request: SIPRequest) throws -> SIPRequest {
    try #require(try SIPParser().parse(datagram: request.serializedBytes).request)
}

private func refusal(_ decision: RequestDecision) -> RequestRefusal? {
    if case .refused(let refusal) = decision { return refusal }
    return nil
}

@Test func signedRequestFromAMemberIsAcceptedAfterCrossingTheWire() throws {
    var fixture = try CommunityFixture()
    let sensor = try fixture.admit()
    let signed = sensor.requestSigner.signed(try notify(), now: start)
    var verifier = RequestVerifier(membership: fixture.founder.verifier)
    let decision = verifier.verify(try overTheWire(signed), now: start.advanced(by: .milliseconds(40)))
    guard case .member(let member) = decision else {
        Issue.record("refused: \(decision)")
        return
    }
    #expect(member.nodeID == sensor.identity.nodeID)
    #expect(member.role == .member)
    #expect(RequestVerifier.claimedCommunity(of: signed) == fixture.community.id)
}

@Test func capturedAndReplayedNotifyIsRefused() throws {
    var fixture = try CommunityFixture()
    let sensor = try fixture.admit()
    let captured = try overTheWire(sensor.requestSigner.signed(try notify(), now: start))
    var verifier = RequestVerifier(membership: fixture.founder.verifier)
    #expect(refusal(verifier.verify(captured, now: start)) == nil)
    let replay = refusal(verifier.verify(captured, now: start.advanced(by: .seconds(5))))
    #expect(replay?.code == .replayed)
    #expect(replay?.statusCode == 403)
    #expect(replay?.reasonPhrase == "Replayed Request")
    // After the window the nonce is forgotten, but the timestamp is then stale.
    #expect(refusal(verifier.verify(captured, now: start.advanced(by: .seconds(31))))?.code == .stale)
}

@Test func modifiedBodyOrCoveredHeaderIsRefused() throws {
    var fixture = try CommunityFixture()
    let sensor = try fixture.admit()
    let signed = sensor.requestSigner.signed(try notify(), now: start)
    var verifier = RequestVerifier(membership: fixture.founder.verifier)

    var body = signed
    body.body = ByteBuffer(string: "<alarm building=\"7\" kind=\"none\"/>")
    #expect(refusal(verifier.verify(try overTheWire(body), now: start))?.code == .badSignature)

    var event = signed
    event.headers.replaceOrAdd(name: "Event", value: "presence")
    #expect(refusal(verifier.verify(event, now: start))?.code == .badSignature)

    var uri = signed
    uri.uri = try SIPURI(parsing: "sip:other@192.0.2.10:5062")
    #expect(refusal(verifier.verify(uri, now: start))?.code == .badSignature)

    // An uncovered header (Via, rewritten hop by hop) may change.
    var via = signed
    via.headers.replaceOrAdd(name: "Via", value: "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKother")
    #expect(refusal(verifier.verify(via, now: start)) == nil)
}

@Test func swappingInAnotherMembersCredentialBreaksTheSignature() throws {
    var fixture = try CommunityFixture()
    let sensor = try fixture.admit()
    let other = try fixture.admit()
    var signed = sensor.requestSigner.signed(try notify(), now: start)
    signed.headers.replaceOrAdd(name: MembershipHeaders.member, value: other.credential.text)
    var verifier = RequestVerifier(membership: fixture.founder.verifier)
    #expect(refusal(verifier.verify(signed, now: start))?.code == .badSignature)
}

@Test func strangerWithItsOwnKeysGets403NotAMember() throws {
    let fixture = try CommunityFixture()
    let rogue = NodeIdentity.generate()
    let rogueFounding = try Community.found(name: "north-street", founder: rogue, now: start)
    let signed = RequestSigner(identity: rogue, credential: rogueFounding.founderCredential).signed(try notify(), now: start)
    var verifier = RequestVerifier(membership: fixture.founder.verifier)
    let refused = refusal(verifier.verify(signed, now: start))
    #expect(refused?.code == .foreignCommunity)
    #expect(refused?.statusCode == 403)

    let selfIssued = MemberCertificate.issue(
        community: fixture.community.id, subCommunity: nil, subject: rogue.publicKey, role: .owner, issuedAt: start,
        expiry: start.advanced(by: .seconds(60)), by: rogue)
    let forged = RequestSigner(identity: rogue, credential: MembershipCredential(certificates: [selfIssued])).signed(try notify(), now: start)
    #expect(refusal(verifier.verify(forged, now: start))?.code == .notMember)
}

@Test func requestWithoutProofIsRefused() throws {
    let fixture = try CommunityFixture()
    var verifier = RequestVerifier(membership: fixture.founder.verifier)
    let refused = refusal(verifier.verify(try notify(), now: start))
    #expect(refused?.code == .missingProof)
    #expect(refused?.reasonPhrase == "Membership Proof Required")
}

@Test func revokedMembersNextRequestIsRefused() throws {
    var fixture = try CommunityFixture()
    let sensor = try fixture.admit()
    var verifier = RequestVerifier(membership: fixture.founder.verifier)
    #expect(refusal(verifier.verify(sensor.requestSigner.signed(try notify(), now: start), now: start)) == nil)
    let revocation = try fixture.founder.revoke(sensor.identity.publicKey, reason: "", now: start.advanced(by: .seconds(1)))
    try verifier.membership.accept(revocation, now: start.advanced(by: .seconds(1)))
    let next = sensor.requestSigner.signed(try notify(), now: start.advanced(by: .seconds(2)))
    let refused = refusal(verifier.verify(next, now: start.advanced(by: .seconds(2))))
    #expect(refused?.code == .revoked)
    #expect(refused?.reasonPhrase == "Membership Revoked")
}

@Test func timestampOutsideTheWindowIsStaleEitherWay() throws {
    var fixture = try CommunityFixture()
    let sensor = try fixture.admit()
    var verifier = RequestVerifier(membership: fixture.founder.verifier, window: .seconds(30))
    let late = sensor.requestSigner.signed(try notify(), now: start)
    #expect(refusal(verifier.verify(late, now: start.advanced(by: .milliseconds(30_001))))?.code == .stale)
    let early = sensor.requestSigner.signed(try notify(), now: start.advanced(by: .seconds(31)))
    #expect(refusal(verifier.verify(early, now: start))?.code == .stale)
    let edge = sensor.requestSigner.signed(try notify(), now: start)
    #expect(refusal(verifier.verify(edge, now: start.advanced(by: .seconds(30)))) == nil)
}

@Test func subCommunityCertificatesAreReportedOnlyWhenTheyVerify() throws {
    var fixture = try CommunityFixture()
    let owner = try fixture.admit()
    let c = try fixture.admit()
    let membership = fixture.founder.verifier
    var sub = try SubCommunity(
        charter: try SubCommunityCharter.create(name: "surveillance/north-street", policy: .open, by: owner, now: start), membership: membership,
        now: start)
    _ = try sub.receive(
        joinRequest: .sign(.joinRequest, subject: c.identity.publicKey, in: sub.name, of: fixture.community.id, at: start, by: c.identity),
        credential: c.credential, membership: membership, now: start)
    let certificate = try sub.approve(c.identity.nodeID, by: owner.identity, now: start).certificate
    let bogus = MemberCertificate.issue(
        community: fixture.community.id, subCommunity: "energy/feeder-7", subject: c.identity.publicKey, role: .member, issuedAt: start,
        expiry: start.advanced(by: .seconds(60)), by: c.identity)
    var verifier = RequestVerifier(membership: membership)
    verifier.subCommunities[sub.name] = sub
    let signer = RequestSigner(identity: c.identity, credential: c.credential, subCommunityCertificates: [certificate, bogus])
    let decision = verifier.verify(try overTheWire(signer.signed(try notify(), now: start)), now: start)
    guard case .member(let member) = decision else {
        Issue.record("refused: \(decision)")
        return
    }
    #expect(member.subCommunities == ["surveillance/north-street"])
}

@Test func replayCacheForgetsNoncesAfterTheWindowAndRefusesWhenFullOfLiveOnes() {
    var cache = ReplayCache(capacity: 2, sweepInterval: .seconds(30))
    let t0 = OverlayInstant(milliseconds: 1000)
    let expiry = t0.advanced(by: .seconds(30))
    #expect(cache.insert(.init(signer: [1], nonce: "a"), expiry: expiry, now: t0) == .inserted)
    #expect(cache.insert(.init(signer: [1], nonce: "a"), expiry: expiry, now: t0) == .seen)
    #expect(cache.insert(.init(signer: [2], nonce: "a"), expiry: expiry, now: t0) == .inserted, "nonces are per signer")
    #expect(cache.insert(.init(signer: [3], nonce: "a"), expiry: expiry, now: t0) == .full)
    #expect(cache.insert(.init(signer: [3], nonce: "a"), expiry: expiry.advanced(by: .seconds(30)), now: expiry) == .inserted)
    #expect(cache.count == 1)
}
