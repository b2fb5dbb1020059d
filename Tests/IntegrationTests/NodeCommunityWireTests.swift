import Community
import Foundation
import Logging
import NIOCore
import Overlay
@testable import SMFNode
import SIPCore
import SIPEndpoint
import SIPSyntax
import ServicePlatform
import SIPTransport
import Testing

/// The node's community conventions: resource URIs, the gate's assertion, the bodies' encodings.
@Suite struct NodeCommunityWireTests {
    @Test func communityResourcesRoundTripThroughTheUserPart() throws {
        let id = CommunityID(foundingPublicKey: Array(repeating: 7, count: 32), name: "north-street")
        let community = CommunityResource(community: id, subCommunity: nil)
        #expect(community.user == "membership.\(id.shortDescription)")
        #expect(CommunityResource(user: community.user) == community)
        let sub = CommunityResource(community: id, subCommunity: "surveillance/north street")
        #expect(sub.user == "membership.\(id.shortDescription).surveillance/north%20street")
        #expect(CommunityResource(user: sub.user)?.subCommunity == "surveillance/north street")
        for foreign in ["smf", "membership.", "membership.xyz", "membership.0123456789ab.", "membership.0123456789abX", "membership.0123456789"] {
            #expect(CommunityResource(user: foreign) == nil, "\(foreign) is no community resource")
        }
        // A NOTIFY names the resource in From, a refresh SUBSCRIBE in To.
        var headers = SIPHeaders()
        headers.from = SIPNameAddress(uri: sub.uri(host: "127.0.0.1", port: 5070), parameters: [("tag", "n1")])
        headers.to = SIPNameAddress(uri: SIPURI(user: "smf", host: "127.0.0.1", port: 5080), parameters: [("tag", "s1")])
        let notify = SIPRequest(method: .notify, uri: SIPURI(user: "smf", host: "127.0.0.1", port: 5080), headers: headers)
        #expect(CommunityResource.of(notify) == sub)
    }

    @Test func assertionRoundTripsAndRejectsWhatTheGateDidNotWrite() throws {
        let id = CommunityID(foundingPublicKey: Array(repeating: 9, count: 32), name: "harbour-coop")
        let assertion = CommunityAssertion(member: NodeID(hashing: [1]), community: id, subCommunities: ["energy/feeder-7", "a"])
        #expect(CommunityAssertion(value: assertion.value) == assertion)
        #expect(CommunityAssertion(value: "nonsense") == nil)
        #expect(CommunityAssertion(value: "\(NodeID(hashing: [1]));community=zz;subs=") == nil)
    }

    @Test func listsAndBase64URLRoundTrip() {
        let items: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 0xAB, count: 300)]
        #expect(SubCommunityRecords.decodeList(SubCommunityRecords.encodeList(items)) == items)
        #expect(SubCommunityRecords.decodeList([0, 5, 1]) == nil, "a truncated list is refused")
        let bytes: [UInt8] = Array(0...255)
        #expect(fromBase64URL(base64URL(bytes)) == bytes)
        #expect(!base64URL(bytes).contains("=") && !base64URL(bytes).contains("+") && !base64URL(bytes).contains("/"))
        #expect(CommunityBodies.parseSubMessage(CommunityBodies.subMessage(.removal, [4, 5])).map { "\($0.0.rawValue) \($0.1)" } == "removal [4, 5]")
        #expect(CommunityBodies.parseSubMessage("promote AAAA") == nil)
    }

    /// The membership the service runtime asks (in-process node): its scopes are the sub-communities the node holds a
    /// certificate of, and a request passes a scope only with the gate's assertion naming a member of it.
    @Test func serviceMembershipAuthorizesOnlyAssertedMembersOfTheScope() async throws {
        try await withNode { node, _, _ in
            let membership = node.serviceMembership
            #expect(await membership.scopes().isEmpty, "no community yet")
            let communities = try #require(node.communitySlot.current)
            let summary = try await communities.create("north-street")
            _ = try await communities.createSub("surveillance/north", policy: .approval, community: nil)
            let scope = ServiceScope(community: "north-street", subcommunity: "surveillance/north")
            #expect(await membership.scopes() == [scope])

            var request = SIPRequest(method: .subscribe, uri: SIPURI(user: "app.svc", host: "127.0.0.1", port: 5070))
            #expect(await membership.authorize(request, in: scope)?.reason == "Membership Proof Required")
            let id = try #require(CommunityID(hex: summary.id))
            let member = NodeID(hashing: [2])
            request.headers.replaceOrAdd(
                name: CommunityAssertion.header, value: CommunityAssertion(member: member, community: id, subCommunities: []).value)
            #expect(await membership.authorize(request, in: scope)?.reason == "Not A Member Of This Sub-Community")
            request.headers.replaceOrAdd(
                name: CommunityAssertion.header,
                value: CommunityAssertion(member: member, community: id, subCommunities: ["surveillance/north"]).value)
            #expect(await membership.authorize(request, in: scope) == nil)
            let other = CommunityID(foundingPublicKey: Array(repeating: 3, count: 32), name: "north-street")
            request.headers.replaceOrAdd(
                name: CommunityAssertion.header,
                value: CommunityAssertion(member: member, community: other, subCommunities: ["surveillance/north"]).value)
            #expect(await membership.authorize(request, in: scope)?.reason == "Not A Member Of This Community", "same name, other founding key")
        }
    }

    /// `--scope` opens a sub-community of a community the node is not in (a lab, a bench); once the node is a member
    /// of a community of that name, its scopes there are its certificates and proof is required, whatever `--scope` said.
    @Test func openScopesApplyOnlyOutsideTheNodesCommunities() async throws {
        var options = NodeServiceOptions()
        options.scopes = [ServiceScope(community: "lab", subcommunity: "bench"), ServiceScope(community: "north-street", subcommunity: "open")]
        try await withNode(services: options) { node, _, _ in
            let membership = node.serviceMembership
            let lab = ServiceScope(community: "lab", subcommunity: "bench")
            let claimed = ServiceScope(community: "north-street", subcommunity: "open")
            let request = SIPRequest(method: .subscribe, uri: SIPURI(user: "app.svc", host: "127.0.0.1", port: 5070))
            #expect(await membership.scopes() == [lab, claimed])
            #expect(await membership.authorize(request, in: lab) == nil)
            #expect(await membership.authorize(request, in: ServiceScope(community: "lab", subcommunity: "other"))?.statusCode == 403)
            let communities = try #require(node.communitySlot.current)
            _ = try await communities.create("north-street")
            #expect(await membership.scopes() == [lab], "a member's scopes come from its certificates")
            #expect(await membership.authorize(request, in: claimed)?.reason == "Membership Proof Required")
            #expect(await membership.authorize(request, in: lab) == nil)
        }
    }

    /// The gate removes an `SMF-Asserted-Member` that arrives from the network, so nobody can claim what it did not prove.
    @Test func forgedAssertionFromTheNetworkIsRemovedBeforeThePackagesSeeIt() async throws {
        try await withNode { node, udpPort, _ in
            let communities = try #require(node.communitySlot.current)
            let summary = try await communities.create("north-street")
            let id = try #require(CommunityID(hex: summary.id))
            let forged = CommunityAssertion(member: NodeID(hashing: [5]), community: id, subCommunities: []).value
            let peer = try await UDPPeer()
            defer { peer.close() }
            let subscribe = """
                SUBSCRIBE sip:membership.\(id.shortDescription)@127.0.0.1:\(udpPort) SIP/2.0\r
                Via: SIP/2.0/UDP 127.0.0.1:\(peer.port);branch=z9hG4bK-forged;rport\r
                Max-Forwards: 70\r
                From: <sip:mallory@127.0.0.1:\(peer.port)>;tag=m1\r
                To: <sip:membership.\(id.shortDescription)@127.0.0.1:\(udpPort)>\r
                Call-ID: forged-1\r
                CSeq: 1 SUBSCRIBE\r
                Event: smf-membership\r
                Contact: <sip:mallory@127.0.0.1:\(peer.port)>\r
                SMF-Asserted-Member: \(forged)\r
                Content-Length: 0\r
                \r

                """
            try await peer.send(subscribe, to: udpPort)
            let answer = try #require(await peer.receive()).text
            #expect(statusLine(of: answer) == "SIP/2.0 403 Membership Proof Required")
            #expect(await node.endpoint?.subscriptions().isEmpty == true, "no subscription was created")
        }
    }
}
