import Foundation
import Overlay
import Testing

@testable import Community

@Test func foundingGivesTheFounderAnOwnerCertificateSignedByTheFoundingKey() throws {
    let fixture = try CommunityFixture()
    let leaf = try #require(fixture.founding.founderCredential.leaf)
    #expect(leaf.role == .owner)
    #expect(leaf.subjectKey == fixture.founderIdentity.publicKey)
    #expect(leaf.issuerKey == fixture.founding.foundingKey.publicKey)
    #expect(leaf.issuerKey != fixture.founderIdentity.publicKey, "the founding key is separate from the node key")
    let member = try MembershipVerifier(community: fixture.community).verify(fixture.founding.founderCredential, now: CommunityFixture.start)
    #expect(member.nodeID == fixture.founderIdentity.nodeID)
    #expect(member.role == .owner)
}

@Test func communityIDDependsOnFoundingKeyAndName() throws {
    let key = FoundingKey.generate().publicKey
    let a = try Community(name: "north-street", foundingPublicKey: key)
    let b = try Community(name: "south-street", foundingPublicKey: key)
    let c = try Community(name: "north-street", foundingPublicKey: FoundingKey.generate().publicKey)
    #expect(a.id != b.id)
    #expect(a.id != c.id, "the same name with another founding key is another community")
    #expect(a.id == CommunityID(foundingPublicKey: key, name: "north-street"))
    #expect(CommunityID(hex: a.id.description) == a.id)
}

@Test(arguments: ["", "a/b", "has space", String(repeating: "x", count: 65), "semi;colon"])
func communityNamesThatCannotBeCarriedAreRefused(name: String) throws {
    let error = communityError { _ = try Community.found(name: name, founder: .generate(), now: .zero) }
    #expect(error?.code == .invalidName)
}

@Test func foundingKeyIsSavedWithMode0600AndLoadsBack() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-community-\(UUID())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let key = FoundingKey.generate()
    let url = directory.appendingPathComponent("community.key")
    try key.save(to: url)
    let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber
    #expect(mode?.intValue == 0o600)
    #expect(try FoundingKey.load(from: url).publicKey == key.publicKey)
    #expect(communityError { try FoundingKey.generate().save(to: url) }?.code == .keyFile, "an existing key is never overwritten")
}

@Test func foundingKeyReadableByOthersIsRefused() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-community-\(UUID())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("community.key")
    try FoundingKey.generate().save(to: url)
    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
    let error = communityError { _ = try FoundingKey.load(from: url) }
    #expect(error?.code == .keyFile)
    #expect(error?.message.contains("chmod 600") == true)
}

@Test func credentialSurvivesItsTextForm() throws {
    var fixture = try CommunityFixture()
    let member = try fixture.admit()
    let text = member.credential.text
    #expect(!text.contains("="), "URL-safe base64 without padding")
    #expect(try MembershipCredential(text: text) == member.credential)
    #expect(member.credential.certificates.count == 2, "member certificate, then the founder's")
}

@Test func base64URLRoundTripsEveryLength() {
    for length in 0..<40 {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
        #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
    }
    #expect(Base64URL.decode("a+b/") == nil, "the standard alphabet's + and / are refused")
    #expect(Base64URL.decode("abcde") == nil, "a length of 4n+1 is impossible")
}

@Test func instantsAreShownAsUTC() {
    #expect(OverlayInstant(milliseconds: 0).iso8601 == "1970-01-01T00:00:00.000Z")
    #expect(OverlayInstant(milliseconds: 1_795_000_000_123).iso8601 == "2026-11-18T11:06:40.123Z")
    #expect(OverlayInstant(milliseconds: 951_782_400_000).iso8601 == "2000-02-29T00:00:00.000Z")
}
