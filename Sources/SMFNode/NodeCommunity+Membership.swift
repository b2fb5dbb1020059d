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

/// A community as `smf community list` and the other commands report it.
public struct CommunitySummary: Codable, Sendable, Equatable {
    public var name: String
    /// The community ID, 64 hex digits.
    public var id: String
    /// This node's role: `owner`, `admin` or `member`.
    public var role: String
    /// The community's ring at this node: `idle`, `joining`, `joined`, `left`; `revoked` when this node learned
    /// it was revoked; `invalid` when its stored credential no longer verifies.
    public var ring: String
    /// Members this node knows (itself included, revoked ones not).
    public var members: Int
    /// Where its `smf-membership` events are watched: `sip:membership.<id12>@HOST:PORT`.
    public var resource: String
    /// The founding key file, on the node that founded the community.
    public var foundingKey: String?
    /// Why the community is `invalid`, when it is.
    public var problem: String?

    public init(
        name: String, id: String, role: String, ring: String, members: Int, resource: String, foundingKey: String? = nil, problem: String? = nil
    ) {
        self.name = name
        self.id = id
        self.role = role
        self.ring = ring
        self.members = members
        self.resource = resource
        self.foundingKey = foundingKey
        self.problem = problem
    }
}

/// `community.invite` answer.
public struct CommunityInvitation: Codable, Sendable, Equatable {
    public var community: String
    public var id: String
    public var role: String
    /// Milliseconds since 1970.
    public var expiresAt: Int64
    /// The token, `smf1.<payload>.<signature>`.
    public var token: String
    /// The bootstrap hints in the token.
    public var bootstrap: [String]

    public init(community: String, id: String, role: String, expiresAt: Int64, token: String, bootstrap: [String]) {
        self.community = community
        self.id = id
        self.role = role
        self.expiresAt = expiresAt
        self.token = token
        self.bootstrap = bootstrap
    }
}

/// One member as `smf community members` shows it.
public struct CommunityMemberRow: Codable, Sendable, Equatable {
    public var nodeID: String
    public var role: String
    public var contact: String?
    /// The event packages and services it announces.
    public var services: [String]
    /// Whether it is this node.
    public var isSelf: Bool

    public init(nodeID: String, role: String, contact: String?, services: [String], isSelf: Bool) {
        self.nodeID = nodeID
        self.role = role
        self.contact = contact
        self.services = services
        self.isSelf = isSelf
    }
}

extension NodeCommunities {
    // MARK: - smf community create / invite / join / leave / revoke / members / list

    /// `smf community create NAME`: a founding key (saved with mode 0600, never overwritten), the founder's
    /// credential, stored before the answer; the community's ring starts with this node alone.
    func create(_ name: String) async throws -> CommunitySummary {
        if let existing = communities.values.first(where: { $0.community.name == name }) {
            throw ControlError(.communityRefused, "this node already belongs to a community named \"\(name)\" (\(existing.id.shortDescription))")
        }
        let moment = now
        let founding: CommunityFounding
        let member: CommunityMember
        let path: String
        do {
            founding = try Community.found(name: name, founder: identity, now: moment)
            let url = URL(fileURLWithPath: environment.dataDirectory).appendingPathComponent(FoundingKey.fileName(for: founding.community.id))
            try founding.foundingKey.save(to: url)
            path = url.path
            member = try CommunityMember(founding: founding, identity: identity, now: moment)
        } catch {
            throw ControlError(.communityRefused, error.message)
        }
        do {
            try store.saveCommunity(StoredCommunity(community: founding.community, credential: founding.founderCredential, foundingKeyPath: path, joinedAt: moment))
            try store.saveMember(
                MemberRecord(
                    communityID: founding.community.id, publicKey: identity.publicKey, role: .owner, services: environment.offeredServices,
                    credential: founding.founderCredential, contact: environment.addressOfRecord.description, updatedAt: moment))
        } catch {
            throw ControlError(.internalError, "cannot store community \(name): \(error)")
        }
        activate(member: member, subs: [:], ownSubCertificates: [:], foundingKeyPath: path, bootstrap: [], mayCreateRing: true)
        await publish(
            MembershipEvent(kind: .joined, communityID: founding.community.id, member: identity.nodeID, role: .owner, by: nil, at: moment))
        return await summary(founding.community.id)
    }

    /// `smf community invite`: a signed single-use token naming this node's contact as bootstrap.
    func invite(role: MemberRole, expiresIn: Duration, community: String?) throws -> CommunityInvitation {
        let id = try resolve(community)
        let state = try state(id)
        let moment = now
        let hint = "sip:\(environment.addressOfRecord.host):\(environment.addressOfRecord.port ?? 5060)"
        do {
            let invitation = try state.member.invite(role: role, expiry: moment.advanced(by: expiresIn), bootstrap: [hint], now: moment)
            return CommunityInvitation(
                community: state.community.name, id: id.description, role: role.rawValue, expiresAt: invitation.expiry.milliseconds,
                token: invitation.text, bootstrap: invitation.bootstrap)
        } catch {
            throw ControlError(.communityRefused, error.message)
        }
    }

    /// `smf community join TOKEN --bootstrap URI` (the joiner): checks the token, sends the join request to the
    /// bootstrap peer, stores the credential it answers with, then joins the community's ring through it.
    /// - Parameter wait: how long to wait for the ring to admit the node before answering.
    func join(token: String, bootstrap: String?, wait: Duration) async throws -> CommunitySummary {
        let moment = now
        let invitation: Invitation
        do {
            invitation = try Invitation(text: token)
            _ = try MembershipVerifier(community: invitation.community).verify(invitation, now: moment)
        } catch {
            throw ControlError(.communityRefused, error.message)
        }
        let id = invitation.community.id
        if communities[id] != nil {
            throw ControlError(.communityRefused, "this node is already a member of \(invitation.community)")
        }
        guard let peerText = bootstrap ?? invitation.bootstrap.first else {
            throw ControlError(.badArgument, "the invitation names no bootstrap peer; give one with --bootstrap URI")
        }
        let address: OverlayAddress
        let destination: SIPDestination
        do {
            address = try NodeConfiguration.bootstrapAddress(peerText)
            destination = try OverlaySIPCarriage.destination(of: address)
        } catch {
            throw ControlError(.badArgument, "--bootstrap \(error)")
        }
        let response: SIPResponse
        do {
            response = try await transport.send(joinRequest(JoinRequest(invitation: invitation, joiner: identity), to: destination), to: destination)
        } catch {
            throw ControlError(.communityRefused, "\(peerText) did not answer the join request: \(error)")
        }
        guard response.statusCode == 200, let body = response.eventBody else {
            let detail = response.body.readableBytes > 0 ? String(decoding: response.body.readableBytesView, as: UTF8.self) : response.reasonPhrase
            throw ControlError(.communityRefused, "\(peerText) refused the invitation (\(response.statusCode) \(response.reasonPhrase)): \(detail)")
        }
        let member: CommunityMember
        do {
            let credential = try MembershipCredential(text: body.text.trimmingCharacters(in: .whitespacesAndNewlines))
            member = try CommunityMember(identity: identity, credential: credential, community: invitation.community, now: now)
        } catch {
            throw ControlError(.communityRefused, "\(peerText) answered with a credential that does not verify: \(error)")
        }
        let services = environment.offeredServices
        do {
            try store.saveCommunity(StoredCommunity(community: invitation.community, credential: member.credential, joinedAt: now))
            try store.saveMember(
                MemberRecord(
                    communityID: id, publicKey: identity.publicKey, role: member.role, services: services, credential: member.credential,
                    contact: environment.addressOfRecord.description, updatedAt: now))
            if let admitter = member.credential.certificates.dropFirst().first {
                let contact = response.headers.contacts.first?.uri.description ?? "sip:\(destination.host):\(destination.port)"
                try store.saveMember(
                    MemberRecord(communityID: id, publicKey: admitter.subjectKey, role: admitter.role, contact: contact, updatedAt: now))
            }
        } catch {
            throw ControlError(.internalError, "cannot store the membership of \(invitation.community): \(error)")
        }
        activate(member: member, subs: [:], ownSubCertificates: [:], foundingKeyPath: nil, bootstrap: [address], mayCreateRing: false)
        await publish(
            MembershipEvent(
                kind: .joined, communityID: id, member: identity.nodeID, role: member.role,
                by: member.credential.certificates.dropFirst().first?.nodeID, at: member.credential.leaf?.issuedAt ?? now))
        if let ring = communities[id]?.ring {
            let clock = ContinuousClock()
            let deadline = clock.now + wait
            while clock.now < deadline, await ring.status().phase != .joined {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        return await summary(id)
    }

    /// The join REGISTER: the request's text as body, the joiner's address of record as Contact.
    private func joinRequest(_ request: JoinRequest, to destination: SIPDestination) -> SIPRequest {
        let host = destination.host.contains(":") ? "[\(destination.host)]" : destination.host
        let target = SIPURI(host: host, port: destination.port)
        let aor = environment.addressOfRecord
        var generator = SystemRandomNumberGenerator()
        var headers = SIPHeaders()
        headers.to = SIPNameAddress(uri: CommunityResource(community: request.invitation.community.id, subCommunity: nil).uri(host: host, port: destination.port))
        headers.from = SIPNameAddress(uri: aor, parameters: [("tag", String(generator.next() & 0xFF_FFFF_FFFF, radix: 16))])
        headers.callID = "join-\(String(generator.next(), radix: 16))"
        headers.cseq = SIPCSeq(sequence: 1, method: .register)
        headers.add(name: "Contact", value: "<\(aor)>")
        var message = SIPRequest(method: .register, uri: target, headers: headers)
        message.eventBody = SIPEventBody(contentType: CommunityBodies.joinType, text: request.text)
        return message
    }

    /// The admitting peer's side of a join (a REGISTER with `application/smf-join`): checks the invitation, the
    /// joiner's proof of key possession and the nonce, stores the redeemed nonce and the new member, then
    /// answers `200` with the joiner's credential. Any refusal says exactly why, in the reason phrase and a
    /// `text/plain` body.
    func admit(_ request: SIPRequest) async -> SIPResponse {
        let text = String(decoding: request.body.readableBytesView, as: UTF8.self)
        let joinRequest: JoinRequest
        do {
            joinRequest = try JoinRequest(text: text)
        } catch {
            return refusal(request, 400, Self.reasonPhrase(error.code, invitation: true), detail: error.message)
        }
        let id = joinRequest.invitation.community.id
        guard var state = communities[id] else {
            let detail: String
            if let other = communities.values.sorted(by: { $0.community.name < $1.community.name }).first {
                do {
                    _ = try other.member.verifier.verify(joinRequest.invitation, now: now)
                    detail = "this node is not a member of \(joinRequest.invitation.community)"
                } catch {
                    detail = error.message
                }
            } else {
                detail = "this node belongs to no community and cannot admit anyone to \(joinRequest.invitation.community)"
            }
            return refusal(request, 403, Self.reasonPhrase(.foreign, invitation: true), detail: detail)
        }
        let moment = now
        let admission: Admission
        do {
            admission = try state.member.admit(joinRequest, now: moment)
        } catch {
            return refusal(request, 403, Self.reasonPhrase(error.code, invitation: true), detail: error.message)
        }
        let contact = request.headers.contacts.first?.uri.description
        do {
            guard try store.markInvitationNonceUsed(admission.nonce, in: id, at: moment) else {
                return refusal(request, 403, Self.reasonPhrase(.nonceAlreadyUsed, invitation: true), detail: "the invitation was already used")
            }
            try store.saveMember(
                MemberRecord(
                    communityID: id, publicKey: joinRequest.joinerKey, role: joinRequest.invitation.role, credential: admission.credential,
                    contact: contact, updatedAt: moment))
        } catch {
            return refusal(request, 500, "Membership Store Failed", detail: "\(error)")
        }
        state.member.usedNonces.insert(admission.nonce)
        communities[id]?.member = state.member
        refreshMemberEndpoints(id)
        var response = SIPResponse.answering(request, statusCode: 200)
        response.headers.add(name: "Contact", value: "<\(environment.addressOfRecord)>")
        response.eventBody = SIPEventBody(contentType: CommunityBodies.credentialType, text: admission.credential.text)
        await publish(admission.event)
        return response
    }

    /// `smf community leave`: tells the ring this node left, leaves the ring, then forgets everything stored for
    /// the community (the founding key file stays).
    func leave(community: String?) async throws -> CommunitySummary {
        let id = try resolve(community)
        var summary = await summary(id)
        let state = try state(id)
        await publish(MembershipEvent(kind: .left, communityID: id, member: identity.nodeID, role: state.member.role, by: nil, at: now))
        if let announcement = await ownAnnouncement(id, left: true) {
            await put(id, name: MemberAnnouncement.resourceName(community: id), value: announcement)
        }
        state.ringTask?.cancel()
        await state.ring.leave()
        await state.ring.stop()
        do {
            try store.removeCommunity(id)
        } catch {
            throw ControlError(.internalError, "cannot forget community \(state.community.name): \(error)")
        }
        communities[id] = nil
        memberEndpoints[id] = nil
        revokedEndpoints[id] = nil
        summary.ring = "left"
        return summary
    }

    /// `smf community revoke MEMBER`: a signed revocation, stored and applied here before the answer; then sent to
    /// every member this node knows and stored in the ring, where the others fetch it within half a stabilisation
    /// period.
    func revoke(member prefix: String, reason: String, community: String?) async throws -> CommunityMemberRow {
        let id = try resolve(community)
        var state = try state(id)
        let target = try member(prefix, in: id)
        guard target.publicKey != identity.publicKey else {
            throw ControlError(.badArgument, "a node does not revoke itself; use `smf community leave`")
        }
        let revocation: Revocation
        do {
            revocation = try state.member.revoke(target.publicKey, reason: reason, now: now)
            try store.saveRevocation(revocation)
        } catch let error as CommunityError {
            throw ControlError(.communityRefused, error.message)
        } catch {
            throw ControlError(.internalError, "cannot store the revocation: \(error)")
        }
        try? state.verifier.membership.accept(revocation, now: now)
        communities[id] = state
        refreshMemberEndpoints(id)
        await publish(
            MembershipEvent(
                kind: .revoked, communityID: id, member: target.nodeID, role: nil, by: identity.nodeID, at: revocation.revokedAt, reason: reason))
        Task { await self.spread(revocation, in: id) }
        return CommunityMemberRow(nodeID: target.nodeID.description, role: target.role.rawValue, contact: target.contact, services: target.services, isSelf: false)
    }

    /// `smf community members`: the members this node knows (from admissions and the ring's announcements),
    /// revoked ones left out.
    func members(community: String?) throws -> [CommunityMemberRow] {
        let id = try resolve(community)
        let state = try state(id)
        let members: [MemberRecord]
        do {
            members = try store.members(of: id)
        } catch {
            throw ControlError(.internalError, "cannot read the members: \(error)")
        }
        return members.filter { !state.member.verifier.revocations.isRevoked($0.publicKey) }.map {
            CommunityMemberRow(
                nodeID: $0.nodeID.description, role: $0.role.rawValue, contact: $0.contact, services: $0.services,
                isSelf: $0.publicKey == identity.publicKey)
        }
    }

    /// `smf community list`.
    func list() async -> [CommunitySummary] {
        var rows: [CommunitySummary] = []
        for id in communities.keys.sorted(by: { (communities[$0]?.community.name ?? "", $0) < (communities[$1]?.community.name ?? "", $1) }) {
            rows.append(await summary(id))
        }
        for (id, entry) in inactive.sorted(by: { $0.key < $1.key }) {
            rows.append(
                CommunitySummary(
                    name: entry.community.name, id: id.description, role: "-", ring: "invalid", members: 0,
                    resource: resourceURI(id, sub: nil).description, problem: entry.reason))
        }
        return rows
    }

    func summary(_ id: CommunityID) async -> CommunitySummary {
        guard let state = communities[id] else {
            return CommunitySummary(name: "", id: id.description, role: "-", ring: "left", members: 0, resource: resourceURI(id, sub: nil).description)
        }
        let phase = await state.ring.status().phase
        let count = ((try? store.members(of: id)) ?? []).filter { !state.member.verifier.revocations.isRevoked($0.publicKey) }.count
        guard let current = communities[id] else {
            return CommunitySummary(name: state.community.name, id: id.description, role: "-", ring: "left", members: 0, resource: "")
        }
        return CommunitySummary(
            name: current.community.name, id: id.description, role: current.member.role.rawValue,
            ring: current.revokedSelf != nil ? "revoked" : "\(phase)", members: count, resource: resourceURI(id, sub: nil).description,
            foundingKey: current.foundingKeyPath)
    }
}
