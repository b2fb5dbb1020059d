import Community
import ServicePlatform
import SIPEvents
public import SIPSyntax

/// The membership the service runtime asks of the node (``ServiceMembership``): the scopes are the sub-communities
/// this node holds a certificate of, and a request is authorized in a scope when the node's gate verified its
/// proof and found a valid certificate of that sub-community in it (the `SMF-Asserted-Member` the gate adds; it
/// removes any that arrives from the network).
public struct NodeServiceMembership: ServiceMembership {
    let slot: NodeCommunitySlot

    init(slot: NodeCommunitySlot) {
        self.slot = slot
    }

    public func scopes() async -> [ServiceScope] {
        guard let communities = slot.current else { return [] }
        return await communities.memberScopes().map { ServiceScope(community: $0.community.name, subcommunity: $0.sub) }
    }

    public func authorize(_ request: SIPRequest, in scope: ServiceScope) async -> ServiceDirectAnswer? {
        guard let assertion = CommunityAssertion.of(request) else {
            return ServiceDirectAnswer(statusCode: 403, reason: "Membership Proof Required")
        }
        guard let communities = slot.current, let community = await communities.community(assertion.community), community.name == scope.community
        else {
            return ServiceDirectAnswer(statusCode: 403, reason: "Not A Member Of This Community")
        }
        guard assertion.subCommunities.contains(scope.subcommunity) else {
            return ServiceDirectAnswer(statusCode: 403, reason: "Not A Member Of This Sub-Community")
        }
        return nil
    }
}

/// The `smf-membership` event package every node serves (docs/community.md "Membership events"): the resources are
/// `sip:membership.<id12>[.<sub>]@HOST:PORT`, one per community and sub-community this node is in; each NOTIFY
/// carries the latest `MembershipEvent` as one line of `text/x-smf-membership`; the first NOTIFY the latest one
/// so far, or no body.
///
/// Its authorization hook (RFC 6665 §5.4.6) admits a SUBSCRIBE only when the node's gate asserted a member of the
/// resource's community (and sub-community); the gate has refused the others with a reason already, so this is
/// the second line.
enum NodeMembershipPackage {
    static let package = SIPBasicEventPackage(
        name: MembershipEvent.eventPackage, acceptedContentTypes: [MembershipEvent.contentType], expiresPolicy: SIPExpiresPolicy(),
        minimumNotifyInterval: .zero,
        authorization: { request in
            guard let resource = CommunityResource.of(request), let assertion = CommunityAssertion.of(request),
                assertion.community.shortDescription == resource.communityShortID
            else { return .reject(statusCode: 403) }
            if let sub = resource.subCommunity, !assertion.subCommunities.contains(sub) { return .reject(statusCode: 403) }
            return .accept
        })
}
