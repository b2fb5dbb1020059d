import Community
import ControlChannel
import Foundation
import Logging
import NIOCore
import Overlay
import OverlaySIP
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage

/// What the community gate decided about an incoming request.
enum CommunityScreening: Sendable {
    /// Answer with this (a refusal, or the answer to a community request the gate handles itself).
    case answer(SIPResponse)
    /// A verified message of a community ring: the ring answers it.
    case ring(OverlayNode, SIPRequest)
    /// A verified request for a community resource: straight to the UAS core (no overlay redirect).
    case community(SIPIncomingRequest)
    /// Not a request of any community of this node (or one whose proof verified, for the node's own address):
    /// on as usual. Any `SMF-Asserted-Member` that came with it is removed.
    case ordinary(SIPIncomingRequest)
}

extension NodeCommunities {
    // MARK: - Incoming: the gate

    /// Checks an incoming request before it reaches the ring or the endpoint (docs/community.md "Enforcement").
    ///
    /// A request is *of a community* when it is a message of the community's ring (`Overlay-Ring`), is about one of
    /// its resources (`membership.<id12>…` in Request-URI, To or From), or carries its proof (`SMF-Member`).
    /// Such a request must carry valid proof of a non-revoked member, signed over its key fields, fresh and not
    /// seen before; otherwise it gets `403` with the reason and nothing changes. Requests of no community of this
    /// node (e.g. from ordinary phones to the node's own address) pass unchanged.
    func screen(_ incoming: SIPIncomingRequest) async -> CommunityScreening {
        var request = incoming.request
        request.headers.remove(CommunityAssertion.header)
        var screened = incoming
        screened.request = request

        if request.method == .register, request.headers.contentType?.lowercased().hasPrefix(CommunityBodies.joinType) == true {
            return .answer(await admit(request))
        }
        if let ring = OverlaySIPCarriage.ring(of: request) {
            guard let id = CommunityID(hex: ring), communities[id] != nil else {
                return .answer(refusal(request, 403, "Not A Member Of This Community", detail: "this node takes part in no overlay ring \(ring.prefix(12))"))
            }
            switch verify(request, in: id) {
            case .refused(let refusal): return .answer(self.refusal(request, refusal))
            case .member:
                guard let ring = communities[id]?.ring else { return .answer(.answering(request, statusCode: 503)) }
                return .ring(ring, request)
            }
        }
        if let resource = CommunityResource.of(request) {
            guard let id = communityID(short: resource.communityShortID) else {
                return .answer(refusal(request, 404, "No Such Community Here", detail: "this node is not in community \(resource.communityShortID)"))
            }
            let member: AuthenticatedMember
            switch verify(request, in: id) {
            case .refused(let refusal): return .answer(self.refusal(request, refusal))
            case .member(let verified): member = verified
            }
            if resource.subCommunity == nil, request.method == .message,
                request.headers.contentType?.lowercased().hasPrefix(CommunityBodies.revocationType) == true
            {
                return .answer(await receiveRevocation(request, in: id))
            }
            if let sub = resource.subCommunity {
                if request.method == .message,
                    request.headers.contentType?.lowercased().hasPrefix(CommunityBodies.subCommunityType) == true
                {
                    return .answer(await subCommunityMessage(request, from: member, in: id, sub: sub))
                }
                guard communities[id]?.subs[sub] != nil else {
                    return .answer(refusal(request, 404, "No Such Sub-Community Here", detail: "this node does not know sub-community \(sub)"))
                }
                guard member.subCommunities.contains(sub) else {
                    return .answer(
                        refusal(
                            request, 403, "Not A Member Of This Sub-Community",
                            detail: "\(member.nodeID.shortDescription) presented no valid certificate of \(sub)"))
                }
            }
            screened.request.headers.add(name: CommunityAssertion.header, value: assertion(member, id).value)
            return .community(screened)
        }
        if let claimed = RequestVerifier.claimedCommunity(of: request), communities[claimed] != nil {
            switch verify(request, in: claimed) {
            case .refused(let refusal): return .answer(self.refusal(request, refusal))
            case .member(let member):
                screened.request.headers.add(name: CommunityAssertion.header, value: assertion(member, claimed).value)
            }
        }
        return .ordinary(screened)
    }

    /// Checks a request's proof against community `id` (one step: the replay cache sees it at once). Callers
    /// check that the node is in `id` first.
    func verify(_ request: SIPRequest, in id: CommunityID) -> RequestDecision {
        let moment = now
        let decision = communities[id]!.verifier.verify(request, now: moment)
        if case .refused(let refusal) = decision {
            logger.debug(
                "refused a community request",
                metadata: [
                    "sip.method": "\(request.method)", "sip.call-id": "\(request.headers.callID ?? "-")", "smf.refusal": "\(refusal)",
                ])
        }
        return decision
    }

    private func assertion(_ member: AuthenticatedMember, _ id: CommunityID) -> CommunityAssertion {
        CommunityAssertion(member: member.nodeID, community: id, subCommunities: member.subCommunities)
    }

    func refusal(_ request: SIPRequest, _ refusal: RequestRefusal) -> SIPResponse {
        self.refusal(request, refusal.statusCode, refusal.reasonPhrase, detail: refusal.detail)
    }

    /// A refusal whose reason phrase says what is wrong and whose `text/plain` body says it in detail.
    func refusal(_ request: SIPRequest, _ statusCode: Int, _ reason: String, detail: String) -> SIPResponse {
        var response = SIPResponse.answering(request, statusCode: statusCode, reasonPhrase: reason)
        response.headers.add(name: "Content-Type", value: "text/plain")
        response.body = .init(string: detail)
        return response
    }

    // MARK: - Outgoing: signing

    /// Signs a request of one of this node's communities as the last step before it leaves (the transport's
    /// outbound hook). Which community: the ring it belongs to (`Overlay-Ring`), the community resource it is about,
    /// or the community whose member's address it goes to (the service runtime's wires between members, MESSAGEs
    /// between members). Other requests, and the default ring's, leave unchanged. A request to a member
    /// this node knows was revoked does not leave at all (nil).
    func prepare(_ request: SIPRequest, to destination: SIPDestination) -> SIPRequest? {
        guard !communities.isEmpty, request.headers[MembershipHeaders.signature] == nil else { return request }
        var target: (id: CommunityID, sub: String?)?
        if let ring = OverlaySIPCarriage.ring(of: request) {
            guard let id = CommunityID(hex: ring), communities[id] != nil else { return request }
            if let recipient = request.uri.user, isRevoked(nodeIDHex: recipient, in: id) { return nil }
            target = (id, nil)
        } else if let resource = CommunityResource.of(request), let id = communityID(short: resource.communityShortID) {
            target = (id, resource.subCommunity)
        } else if request.headers[OverlaySIPCarriage.messageHeader] == nil,
            let id = communityOfMember(at: destination) ?? communityOfMember(at: SIPEndpoint.destination(for: request.uri))
        {
            // Requests to a member's node (not the open default ring's messages, which stay unsigned). A request in a
            // dialog whose peer reached us over TCP goes back over that connection (RFC 5626 §5), from an ephemeral
            // port no contact names: its Request-URI, the peer's Contact, says whose node it is.
            target = (id, "")
        }
        guard let target, let state = communities[target.id], state.revokedSelf == nil else { return request }
        if isRevokedMember(at: destination, in: target.id) { return nil }
        let certificates: [MemberCertificate]
        switch target.sub {
        case nil: certificates = []
        case "": certificates = state.ownSubCertificates.keys.sorted().compactMap { state.ownSubCertificates[$0] }
        case let sub?: certificates = state.ownSubCertificates[sub].map { [$0] } ?? []
        }
        var signed = request
        RequestSigner(identity: identity, credential: state.member.credential, subCommunityCertificates: certificates).sign(&signed, now: now)
        return signed
    }

    /// The community of a known member whose contact is `destination`'s host and port.
    private func communityOfMember(at destination: SIPDestination?) -> CommunityID? {
        guard let destination else { return nil }
        let key = Self.endpointKey(host: destination.host, port: destination.port)
        return communities.keys.sorted().first { memberEndpoints[$0]?.contains(key) == true }
    }

    /// Whether `destination` is the contact of a member of `id` that this node knows was revoked.
    private func isRevokedMember(at destination: SIPDestination, in id: CommunityID) -> Bool {
        revokedEndpoints[id]?.contains(Self.endpointKey(host: destination.host, port: destination.port)) == true
    }

    private func isRevoked(nodeIDHex: String, in id: CommunityID) -> Bool {
        guard let revocations = communities[id]?.member.verifier.revocations, revocations.count > 0 else { return false }
        return revocations.all.contains { $0.revokedNodeID.description == nodeIDHex.lowercased() }
    }

    /// Rebuilds the addresses of the members of `id` (and of its revoked members) from the store.
    func refreshMemberEndpoints(_ id: CommunityID) {
        guard let state = communities[id], let members = try? store.members(of: id) else {
            memberEndpoints[id] = nil
            revokedEndpoints[id] = nil
            return
        }
        var valid = Set<String>()
        var revoked = Set<String>()
        for member in members {
            guard let contact = member.contact, let uri = SIPURI(contact) else { continue }
            let key = Self.endpointKey(host: uri.hostWithoutBrackets, port: uri.port ?? 5060)
            if state.member.verifier.revocations.isRevoked(member.publicKey) { revoked.insert(key) } else { valid.insert(key) }
        }
        memberEndpoints[id] = valid
        revokedEndpoints[id] = revoked
    }

    static func endpointKey(host: String, port: Int) -> String { "\(host.lowercased()):\(port)" }
}
