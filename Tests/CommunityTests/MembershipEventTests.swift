import Foundation
import Overlay
import Testing

@testable import Community

@Test func membershipEventRoundTripsThroughTextAndJSON() throws {
    let event = MembershipEvent(
        kind: .revoked, communityID: CommunityID(foundingPublicKey: Array(repeating: 7, count: 32), name: "north-street"),
        subCommunity: "surveillance/north-street", member: NodeID(hashing: [1, 2, 3]), role: .member, by: NodeID(hashing: [4]),
        at: OverlayInstant(milliseconds: 1_795_000_000_000), reason: "moved away; 100% sure")
    let text = event.text
    #expect(text.hasPrefix("revoked community="))
    #expect(!text.contains("\n"))
    #expect(text.contains("reason=moved%20away%3B%20100%25%20sure"))
    #expect(try MembershipEvent(text: text) == event)
    let json = try JSONEncoder().encode(event)
    #expect(try JSONDecoder().decode(MembershipEvent.self, from: json) == event)
}

@Test func membershipEventWithoutOptionalFieldsIsShort() throws {
    let event = MembershipEvent(
        kind: .left, communityID: CommunityID(foundingPublicKey: Array(repeating: 1, count: 32), name: "x"), member: NodeID(hashing: [9]),
        role: nil, by: nil, at: OverlayInstant(milliseconds: 5))
    #expect(event.text == "left community=\(event.communityID) member=\(event.member) at=5")
    #expect(try MembershipEvent(text: event.text) == event)
}

@Test(arguments: [
    ("exploded community=00", "expected one of"),
    ("joined member=00 at=1", "missing community="),
    ("joined community=zz member=00 at=1", "community"),
    ("joined community=\(String(repeating: "0", count: 64)) member=00 at=1", "member"),
])
func malformedMembershipEventNamesTheProblem(text: String, expected: String) {
    let error = communityError { _ = try MembershipEvent(text: text) }
    #expect(error?.code == .malformed)
    #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
}
