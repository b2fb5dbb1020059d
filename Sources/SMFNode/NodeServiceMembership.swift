import Community
import ServicePlatform
import SIPEvents
public import SIPSyntax

/// The membership the service runtime asks of the node (``ServiceMembership``).
///
/// - In a community this node is a member of, the scopes are the sub-communities it holds a certificate of, and a
///   request is authorized in a scope when the node's gate verified its proof and found a valid certificate of that
///   sub-community in it (the `SMF-Asserted-Member` the gate adds; it removes any that arrives from the network).
/// - `smf run --scope COMMUNITY/SUB` names open scopes for nodes outside any community of that name (a lab, a test
///   bench, one household's own gateways): every request in them is let through. A scope of a community the node
///   *is* a member of is never open, whatever `--scope` says.
/// - Any other scope is refused.
public struct NodeServiceMembership: ServiceMembership {
    let slot: NodeCommunitySlot
    let openScopes: [ServiceScope]

    init(slot: NodeCommunitySlot, openScopes: [ServiceScope] = []) {
        self.slot = slot
        self.openScopes = openScopes
    }

    public func scopes() async -> [ServiceScope] {
        guard let communities = slot.current else { return openScopes }
        let member = await communities.memberScopes()
        let names = Set(await communities.memberCommunityNames())
        return member.map { ServiceScope(community: $0.community.name, subcommunity: $0.sub) } + openScopes.filter { !names.contains($0.community) }
    }

    public func authorize(_ request: SIPRequest, in scope: ServiceScope) async -> ServiceDirectAnswer? {
        let memberOf = await slot.current?.memberCommunityNames() ?? []
        guard memberOf.contains(scope.community) else {
            if openScopes.contains(scope) { return nil }
            return ServiceDirectAnswer(statusCode: 403, reason: "Not A Member Of This Community")
        }
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
