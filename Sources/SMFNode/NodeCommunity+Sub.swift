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

/// One sub-community as `smf sub list` shows it.
public struct SubCommunityRow: Codable, Sendable, Equatable {
    public var community: String
    public var name: String
    /// `open`, `invite` or `approval`; nil when the charter could not be fetched.
    public var policy: String?
    /// The owners' Node-IDs, the creator first.
    public var owners: [String]
    /// This node in it: `owner`, `member`, `pending` or `-`.
    public var state: String

    public init(community: String, name: String, policy: String?, owners: [String], state: String) {
        self.community = community
        self.name = name
        self.policy = policy
        self.owners = owners
        self.state = state
    }
}

/// One member of a sub-community as `smf sub members` shows it.
public struct SubCommunityMemberRow: Codable, Sendable, Equatable {
    public var nodeID: String
    /// `owner` or `member`.
    public var role: String
    /// `member`, or `pending` (a request waiting for approval, known to owners).
    public var state: String
    public var contact: String?

    public init(nodeID: String, role: String, state: String, contact: String?) {
        self.nodeID = nodeID
        self.role = role
        self.state = state
        self.contact = contact
    }
}

/// The outcome of `sub.join`, `sub.approve`, `sub.remove`, `sub.leave` and `sub.create`.
public struct SubCommunityResult: Codable, Sendable, Equatable {
    public var community: String
    public var name: String
    /// `created`, `member`, `pending`, `approved`, `removed`, `left`.
    public var outcome: String
    /// The member concerned, when not this node.
    public var member: String?
    /// Whether the peer concerned was told over SIP (a certificate, a removal), when one had to be.
    public var delivered: Bool?
    /// Extra words for the user (e.g. why a message could not be delivered).
    public var note: String?

    public init(community: String, name: String, outcome: String, member: String? = nil, delivered: Bool? = nil, note: String? = nil) {
        self.community = community
        self.name = name
        self.outcome = outcome
        self.member = member
        self.delivered = delivered
        self.note = note
    }
}

extension NodeCommunities {
    // MARK: - Sub-community commands

    /// `smf sub create NAME --policy P`: the charter (this node its first owner, with a certificate of its own),
    /// stored, then published in the ring.
    func createSub(_ name: String, policy: SubCommunityPolicy, community: String?) async throws -> SubCommunityResult {
        let id = try resolve(community)
        var state = try state(id)
        guard state.subs[name] == nil else {
            throw ControlError(.communityRefused, "sub-community \(name) already exists in \(state.community)")
        }
        if let existing = await fetchCharter(id, name: name) {
            throw ControlError(
                .communityRefused, "sub-community \(name) already exists in \(state.community) (created by \(NodeID(hashing: existing.creatorKey).shortDescription))")
        }
        state = try self.state(id)
        let moment = now
        let charter: SubCommunityCharter
        var sub: SubCommunity
        let certificate: MemberCertificate
        do {
            charter = try SubCommunityCharter.create(name: name, policy: policy, by: state.member, now: moment)
            sub = try SubCommunity(charter: charter, membership: state.member.verifier, now: moment)
            let request = SubCommunityStatement.sign(.joinRequest, subject: identity.publicKey, in: name, of: id, at: moment, by: identity)
            _ = try sub.receive(joinRequest: request, credential: state.member.credential, membership: state.member.verifier, now: moment)
            certificate = try sub.approve(identity.nodeID, by: identity, now: moment).certificate
        } catch {
            throw ControlError(.communityRefused, error.message)
        }
        do {
            try store.saveSubCommunity(charter)
            try store.saveSubCommunityCertificate(certificate)
        } catch {
            throw ControlError(.internalError, "cannot store sub-community \(name): \(error)")
        }
        install(sub, in: id, ownCertificate: certificate)
        await publish(MembershipEvent(kind: .joined, communityID: id, subCommunity: name, member: identity.nodeID, role: .owner, by: nil, at: moment))
        await publishOwnRecords(id)
        return SubCommunityResult(community: state.community.name, name: name, outcome: "created", note: "policy \(policy.rawValue)")
    }

    /// `smf sub join NAME`: a signed join request to an owner; answers `member` once the certificate arrived,
    /// `pending` while an owner has to approve.
    func joinSub(_ name: String, community: String?) async throws -> SubCommunityResult {
        let id = try resolve(community)
        var state = try state(id)
        if state.ownSubCertificates[name] != nil {
            return SubCommunityResult(community: state.community.name, name: name, outcome: "member", note: "already a member")
        }
        let sub: SubCommunity
        if let known = state.subs[name] {
            sub = known
        } else {
            guard let charter = await fetchCharter(id, name: name) else {
                throw ControlError(.communityRefused, "no sub-community named \(name) in \(state.community) (its charter is not in the ring)")
            }
            state = try self.state(id)
            do {
                sub = try SubCommunity(charter: charter, membership: state.member.verifier, now: now)
                try store.saveSubCommunity(charter)
            } catch {
                throw ControlError(.communityRefused, "the charter of \(name) does not verify: \(error)")
            }
            install(sub, in: id, ownCertificate: nil)
        }
        let statement = SubCommunityStatement.sign(.joinRequest, subject: identity.publicKey, in: name, of: id, at: now, by: identity)
        do {
            try store.saveSubCommunityStatement(statement)
        } catch {
            throw ControlError(.internalError, "cannot store the join request: \(error)")
        }
        let owners = sub.charter.owners.filter { $0 != identity.publicKey }
        var lastProblem = "no owner of \(name) has a known contact"
        for owner in owners {
            guard let contact = contact(of: NodeID(hashing: owner), in: id) else { continue }
            let response: SIPResponse
            do {
                response = try await sendSubMessage(.joinRequest, statement.encoded, to: contact, in: id, sub: name)
            } catch {
                lastProblem = "\(contact): \(error)"
                continue
            }
            let communityName = communities[id]?.community.name ?? ""
            switch response.statusCode {
            case 200..<300 where communities[id]?.ownSubCertificates[name] != nil:
                return SubCommunityResult(community: communityName, name: name, outcome: "member")
            case 202:
                return SubCommunityResult(community: communityName, name: name, outcome: "pending", note: "an owner has to approve the request")
            case 200..<300:
                return SubCommunityResult(community: communityName, name: name, outcome: "pending", note: "approved; the certificate has not arrived yet")
            default:
                throw ControlError(.communityRefused, "the owner at \(contact) refused: \(Self.describe(response))")
            }
        }
        throw ControlError(.communityRefused, "cannot reach an owner of \(name): \(lastProblem)")
    }

    /// `smf sub approve NAME MEMBER` (an owner): issues the certificate of a pending request and sends it.
    func approveSub(_ name: String, member prefix: String, community: String?) async throws -> SubCommunityResult {
        let id = try resolve(community)
        var state = try state(id)
        guard var sub = state.subs[name] else { throw ControlError(.communityRefused, "this node does not know sub-community \(name)") }
        let matches = sub.pending.filter { !state.member.verifier.revocations.isRevoked($0.value.subjectKey) }.keys.filter {
            $0.description.hasPrefix(prefix.lowercased())
        }
        guard prefix.count >= 6, let nodeID = matches.first, matches.count == 1 else {
            let pending = sub.pending.keys.map(\.shortDescription).sorted()
            throw ControlError(
                .communityRefused,
                "no single pending request of \(name) from a Node-ID starting with \(prefix) (pending: \(pending.isEmpty ? "none" : pending.joined(separator: ", ")))")
        }
        let moment = now
        let approval: (certificate: MemberCertificate, event: MembershipEvent)
        do {
            approval = try sub.approve(nodeID, by: identity, now: moment)
            try store.saveSubCommunityCertificate(approval.certificate)
        } catch let error as CommunityError {
            throw ControlError(.communityRefused, error.message)
        } catch {
            throw ControlError(.internalError, "cannot store the certificate: \(error)")
        }
        state.subs[name] = sub
        communities[id] = state
        install(sub, in: id, ownCertificate: state.ownSubCertificates[name])
        await publish(approval.event)
        let delivered = await deliver(.certificate, approval.certificate.encoded, to: nodeID, in: id, sub: name)
        if !delivered.delivered { undeliveredCertificates[id, default: []].append(approval.certificate) }
        return SubCommunityResult(
            community: state.community.name, name: name, outcome: "approved", member: nodeID.description, delivered: delivered.delivered,
            note: delivered.problem)
    }

    /// `smf sub remove NAME MEMBER` (an owner): a signed removal, stored, sent to the member and published.
    func removeFromSub(_ name: String, member prefix: String, community: String?) async throws -> SubCommunityResult {
        let id = try resolve(community)
        var state = try state(id)
        guard var sub = state.subs[name] else { throw ControlError(.communityRefused, "this node does not know sub-community \(name)") }
        let record = try member(prefix, in: id)
        let removal: (statement: SubCommunityStatement, event: MembershipEvent)
        do {
            removal = try sub.remove(record.publicKey, by: identity, now: now)
            try store.saveSubCommunityStatement(removal.statement)
        } catch let error as CommunityError {
            throw ControlError(.communityRefused, error.message)
        } catch {
            throw ControlError(.internalError, "cannot store the removal: \(error)")
        }
        state.subs[name] = sub
        if record.publicKey == identity.publicKey { state.ownSubCertificates[name] = nil }
        communities[id] = state
        install(sub, in: id, ownCertificate: state.ownSubCertificates[name])
        await publish(removal.event)
        await putStatements(id, sub: name)
        let delivered = await deliver(.removal, removal.statement.encoded, to: record.nodeID, in: id, sub: name)
        return SubCommunityResult(
            community: state.community.name, name: name, outcome: "removed", member: record.nodeID.description, delivered: delivered.delivered,
            note: delivered.problem)
    }

    /// `smf sub leave NAME`: a signed leave, stored, sent to the owners and published.
    func leaveSub(_ name: String, community: String?) async throws -> SubCommunityResult {
        let id = try resolve(community)
        var state = try state(id)
        guard var sub = state.subs[name], state.ownSubCertificates[name] != nil || sub.pending[identity.nodeID] != nil else {
            throw ControlError(.communityRefused, "this node is not a member of sub-community \(name)")
        }
        let statement = SubCommunityStatement.sign(.leave, subject: identity.publicKey, in: name, of: id, at: now, by: identity)
        let event: MembershipEvent
        do {
            event = try sub.apply(statement)
            try store.saveSubCommunityStatement(statement)
        } catch let error as CommunityError {
            throw ControlError(.communityRefused, error.message)
        } catch {
            throw ControlError(.internalError, "cannot store the leave: \(error)")
        }
        state.subs[name] = sub
        state.ownSubCertificates[name] = nil
        communities[id] = state
        install(sub, in: id, ownCertificate: nil)
        await publish(event)
        await removeRecord(id, name: SubCommunityRecords.members(community: id, name: name))
        await putStatements(id, sub: name)
        var delivered = false
        for owner in sub.charter.owners where owner != identity.publicKey {
            if await deliver(.leave, statement.encoded, to: NodeID(hashing: owner), in: id, sub: name).delivered { delivered = true }
        }
        return SubCommunityResult(community: state.community.name, name: name, outcome: "left", delivered: delivered)
    }

    /// `smf sub list`: the sub-communities of the community (this node's and those in the ring's index).
    func listSubs(community: String?) async throws -> [SubCommunityRow] {
        let id = try resolve(community)
        var names = Set(try state(id).subs.keys)
        for record in await records(id, name: SubCommunityRecords.index(community: id)) {
            for name in String(decoding: record.value, as: UTF8.self).split(separator: "\n") { names.insert(String(name)) }
        }
        var rows: [SubCommunityRow] = []
        for name in names.sorted() {
            var charter = communities[id]?.subs[name]?.charter
            if charter == nil { charter = await fetchCharter(id, name: name) }
            let state = try self.state(id)
            let own: String
            if state.ownSubCertificates[name] != nil {
                own = charter?.owners.contains(identity.publicKey) == true ? "owner" : "member"
            } else if state.subs[name]?.pending[identity.nodeID] != nil || ownPendingRequest(id, sub: name) {
                own = "pending"
            } else {
                own = "-"
            }
            rows.append(
                SubCommunityRow(
                    community: state.community.name, name: name, policy: charter?.policy.rawValue,
                    owners: charter?.owners.map { NodeID(hashing: $0).description } ?? [], state: own))
        }
        return rows
    }

    /// `smf sub members NAME`: the members whose certificates verify (from the ring and this node), and the
    /// requests waiting for approval (owners know them).
    func subMembers(_ name: String, community: String?) async throws -> [SubCommunityMemberRow] {
        let id = try resolve(community)
        if try state(id).subs[name] == nil {
            guard let charter = await fetchCharter(id, name: name) else {
                throw ControlError(.communityRefused, "no sub-community named \(name) in \(try state(id).community)")
            }
            let state = try self.state(id)
            guard let sub = try? SubCommunity(charter: charter, membership: state.member.verifier, now: now) else {
                throw ControlError(.communityRefused, "the charter of \(name) does not verify")
            }
            install(sub, in: id, ownCertificate: nil)
        }
        await syncSubCommunity(id, name: name)
        let records = await records(id, name: SubCommunityRecords.members(community: id, name: name))
        let state = try self.state(id)
        guard let sub = state.subs[name] else { return [] }
        let moment = now
        var certificates: [NodeID: MemberCertificate] = sub.members
        if let own = state.ownSubCertificates[name] { certificates[identity.nodeID] = own }
        for record in records {
            guard let certificate = try? MemberCertificate(decoding: record.value), certificate.subjectKey == record.ownerPublicKey else { continue }
            certificates[certificate.nodeID] = certificate
        }
        var rows: [SubCommunityMemberRow] = []
        for (nodeID, certificate) in certificates.sorted(by: { $0.key < $1.key }) {
            guard (try? sub.verify(certificate, membership: state.member.verifier, now: moment)) != nil else { continue }
            rows.append(
                SubCommunityMemberRow(
                    nodeID: nodeID.description, role: sub.charter.owners.contains(certificate.subjectKey) ? "owner" : "member", state: "member",
                    contact: contact(of: nodeID, in: id)))
        }
        for (nodeID, request) in sub.pending.sorted(by: { $0.key < $1.key })
        where certificates[nodeID] == nil && !state.member.verifier.revocations.isRevoked(request.subjectKey) {
            rows.append(SubCommunityMemberRow(nodeID: nodeID.description, role: "member", state: "pending", contact: contact(of: nodeID, in: id)))
        }
        return rows
    }

    // MARK: - Sub-community messages (MESSAGE application/smf-subcommunity)

    /// Handles a sub-community message from a verified community member (the gate checked its proof).
    func subCommunityMessage(_ request: SIPRequest, from sender: AuthenticatedMember, in id: CommunityID, sub name: String) async -> SIPResponse {
        guard let body = request.eventBody, let (verb, bytes) = CommunityBodies.parseSubMessage(body.text) else {
            return refusal(request, 400, "Malformed Sub-Community Message", detail: "expected one line '<verb> <base64url>' with verb join-request, certificate, removal or leave")
        }
        if communities[id]?.subs[name] == nil {
            guard let charter = await fetchCharter(id, name: name), let state = communities[id],
                let sub = try? SubCommunity(charter: charter, membership: state.member.verifier, now: now)
            else {
                return refusal(request, 404, "No Such Sub-Community Here", detail: "this node does not know sub-community \(name)")
            }
            try? store.saveSubCommunity(charter)
            install(sub, in: id, ownCertificate: nil)
        }
        do {
            switch verb {
            case .joinRequest:
                return try await receiveJoinRequest(request, bytes, from: sender, in: id, sub: name)
            case .certificate:
                return try await receiveCertificate(request, bytes, in: id, sub: name)
            case .removal, .leave:
                let statement = try SubCommunityStatement(decoding: bytes)
                guard statement.kind == (verb == .removal ? .removal : .leave), statement.subCommunity == name else {
                    return refusal(request, 400, "Malformed Sub-Community Message", detail: "the statement is a \(statement.kind) about \(statement.subCommunity)")
                }
                await apply(statement, in: id)
                return SIPEventMessages.response(200, to: request)
            }
        } catch let error as CommunityError {
            return refusal(request, 403, Self.reasonPhrase(error.code), detail: error.message)
        } catch {
            return refusal(request, 500, "Membership Store Failed", detail: "\(error)")
        }
    }

    private func receiveJoinRequest(_ request: SIPRequest, _ bytes: [UInt8], from sender: AuthenticatedMember, in id: CommunityID, sub name: String)
        async throws -> SIPResponse
    {
        let statement = try SubCommunityStatement(decoding: bytes)
        guard var state = communities[id], var sub = state.subs[name] else { return SIPEventMessages.response(503, to: request) }
        guard sub.charter.owners.contains(identity.publicKey), state.ownSubCertificates[name] != nil else {
            return refusal(request, 403, "Not An Owner Of This Sub-Community", detail: "this node is not an owner of \(name)")
        }
        guard statement.subjectKey == sender.member.publicKey else {
            return refusal(request, 403, "Not The Requester", detail: "the join request is not for the member who sent it")
        }
        learnContact(of: sender, from: request, in: id)
        let moment = now
        if let issued = sub.members[sender.nodeID], (try? sub.verify(issued, membership: state.member.verifier, now: moment)) != nil {
            // Already approved (the certificate may have been lost): send it again.
            let delivered = await deliver(.certificate, issued.encoded, to: sender.nodeID, in: id, sub: name, contact: request.headers.from?.uri.description)
            return delivered.delivered
                ? SIPEventMessages.response(200, to: request)
                : refusal(request, 480, "Certificate Not Delivered", detail: delivered.problem ?? "")
        }
        guard let memberText = request.headers[MembershipHeaders.member] else { return SIPEventMessages.response(403, to: request) }
        let credential = try MembershipCredential(text: memberText.trimmingCharacters(in: .whitespaces))
        let decision = try sub.receive(joinRequest: statement, credential: credential, membership: state.member.verifier, now: moment)
        switch decision {
        case .awaitingApproval:
            try store.saveSubCommunityStatement(statement)
            state.subs[name] = sub
            communities[id] = state
            install(sub, in: id, ownCertificate: state.ownSubCertificates[name])
            await publish(
                MembershipEvent(kind: .requested, communityID: id, subCommunity: name, member: sender.nodeID, role: sender.role, by: nil, at: moment))
            var response = SIPEventMessages.response(202, to: request)
            response.reasonPhrase = "Awaiting Approval"
            return response
        case .approveNow:
            let approval = try sub.approve(sender.nodeID, by: identity, now: moment)
            try store.saveSubCommunityCertificate(approval.certificate)
            state.subs[name] = sub
            communities[id] = state
            install(sub, in: id, ownCertificate: state.ownSubCertificates[name])
            await publish(approval.event)
            let delivered = await deliver(
                .certificate, approval.certificate.encoded, to: sender.nodeID, in: id, sub: name, contact: request.headers.from?.uri.description)
            return delivered.delivered
                ? SIPEventMessages.response(200, to: request)
                : refusal(request, 480, "Certificate Not Delivered", detail: delivered.problem ?? "")
        }
    }

    private func receiveCertificate(_ request: SIPRequest, _ bytes: [UInt8], in id: CommunityID, sub name: String) async throws -> SIPResponse {
        let certificate = try MemberCertificate(decoding: bytes)
        guard certificate.subjectKey == identity.publicKey, certificate.subCommunity == name else {
            return refusal(request, 403, "Not For This Node", detail: "the certificate is for \(certificate.nodeID.shortDescription) in \(certificate.subCommunity ?? "the community")")
        }
        guard var state = communities[id], var sub = state.subs[name] else { return SIPEventMessages.response(503, to: request) }
        let moment = now
        try sub.record(certificate, membership: state.member.verifier, now: moment)
        try store.saveSubCommunityCertificate(certificate)
        let first = state.ownSubCertificates[name] == nil
        state.subs[name] = sub
        state.ownSubCertificates[name] = certificate
        communities[id] = state
        install(sub, in: id, ownCertificate: certificate)
        if first {
            await publish(
                MembershipEvent(
                    kind: sub.charter.policy == .approval ? .approved : .joined, communityID: id, subCommunity: name, member: identity.nodeID,
                    role: .member, by: certificate.issuerNodeID, at: certificate.issuedAt))
        }
        Task { await self.put(id, name: SubCommunityRecords.members(community: id, name: name), value: certificate.encoded) }
        return SIPEventMessages.response(200, to: request)
    }

    /// Applies a removal or leave (from a message or the ring) once: stored, the member's certificates before it no
    /// longer verify, and the event published.
    func apply(_ statement: SubCommunityStatement, in id: CommunityID) async {
        guard var state = communities[id], var sub = state.subs[statement.subCommunity], statement.communityID == id else { return }
        if let known = sub.removals[statement.subjectKey], known.at >= statement.at { return }
        let event: MembershipEvent
        do {
            event = try sub.apply(statement)
        } catch {
            logger.debug("ignored a sub-community statement", metadata: ["smf.error": "\(error)"])
            return
        }
        state.subs[statement.subCommunity] = sub
        if statement.subjectKey == identity.publicKey, let own = state.ownSubCertificates[statement.subCommunity], own.issuedAt <= statement.at {
            state.ownSubCertificates[statement.subCommunity] = nil
        }
        communities[id] = state
        install(sub, in: id, ownCertificate: state.ownSubCertificates[statement.subCommunity])
        do {
            try store.saveSubCommunityStatement(statement)
        } catch {
            logger.warning("cannot store a sub-community statement", metadata: ["smf.error": "\(error)"])
        }
        await publish(event)
    }

    /// Fetches the statements of one sub-community from the ring and applies the new ones.
    func syncSubCommunity(_ id: CommunityID, name: String) async {
        for record in await records(id, name: SubCommunityRecords.statements(community: id, name: name)) {
            for bytes in SubCommunityRecords.decodeList(record.value) ?? [] {
                guard let statement = try? SubCommunityStatement(decoding: bytes) else { continue }
                await apply(statement, in: id)
            }
        }
    }

    // MARK: - Helpers

    /// Remembers where a verified member's node is (the From of its request) when this node did not know yet.
    func learnContact(of sender: AuthenticatedMember, from request: SIPRequest, in id: CommunityID) {
        guard let from = request.headers.from?.uri, !from.host.isEmpty else { return }
        let known = (try? store.members(of: id))?.first { $0.nodeID == sender.nodeID }
        guard known?.contact == nil else { return }
        let record = MemberRecord(
            communityID: id, publicKey: sender.member.publicKey, role: sender.role, services: known?.services ?? [],
            credential: known?.credential, contact: SIPURI(scheme: from.scheme, user: from.user, host: from.host, port: from.port).description,
            updatedAt: now)
        try? store.saveMember(record)
        refreshMemberEndpoints(id)
    }

    /// Sends again the certificates an owner issued whose delivery failed (the member was unreachable or unknown).
    func retryCertificateDeliveries(_ id: CommunityID) async {
        guard let waiting = undeliveredCertificates[id], !waiting.isEmpty else { return }
        undeliveredCertificates[id] = nil
        var still: [MemberCertificate] = []
        for certificate in waiting {
            guard let name = certificate.subCommunity, let state = communities[id],
                !state.member.verifier.revocations.isRevoked(certificate.subjectKey)
            else { continue }
            if await !deliver(.certificate, certificate.encoded, to: certificate.nodeID, in: id, sub: name).delivered { still.append(certificate) }
        }
        if !still.isEmpty { undeliveredCertificates[id, default: []] += still }
    }

    /// Puts a sub-community into the state and the request verifier (so its certificates verify in requests).
    func install(_ sub: SubCommunity, in id: CommunityID, ownCertificate: MemberCertificate?) {
        communities[id]?.subs[sub.name] = sub
        communities[id]?.verifier.subCommunities[sub.name] = sub
        communities[id]?.ownSubCertificates[sub.name] = ownCertificate
    }

    /// The charter of `name` from the ring, verified; nil when there is none.
    func fetchCharter(_ id: CommunityID, name: String) async -> SubCommunityCharter? {
        let records = await records(id, name: SubCommunityRecords.charter(community: id, name: name))
        guard let state = communities[id] else { return nil }
        let moment = now
        return records.compactMap { record -> SubCommunityCharter? in
            guard let charter = try? SubCommunityCharter(decoding: record.value), charter.name == name, charter.creatorKey == record.ownerPublicKey,
                (try? charter.verify(membership: state.member.verifier, now: moment)) != nil
            else { return nil }
            return charter
        }.min { $0.createdAt < $1.createdAt }
    }

    /// Whether this node has a join request of its own waiting in `sub`.
    func ownPendingRequest(_ id: CommunityID, sub: String) -> Bool {
        guard let statements = try? store.subCommunityStatements(of: id) else { return false }
        let mine = statements.filter { $0.subCommunity == sub && $0.subjectKey == identity.publicKey }
        return mine.last?.kind == .joinRequest
    }

    /// A member's contact from the store.
    func contact(of nodeID: NodeID, in id: CommunityID) -> String? {
        (try? store.members(of: id))?.first { $0.nodeID == nodeID }?.contact
    }

    /// Sends a sub-community message to a member; reports whether it was taken (2xx) and why not.
    func deliver(
        _ verb: CommunityBodies.SubVerb, _ bytes: [UInt8], to nodeID: NodeID, in id: CommunityID, sub: String, contact known: String? = nil
    ) async -> (delivered: Bool, problem: String?) {
        guard let contact = known ?? contact(of: nodeID, in: id) else {
            return (false, "no contact known for \(nodeID.shortDescription); it learns of it from the ring")
        }
        do {
            let response = try await sendSubMessage(verb, bytes, to: contact, in: id, sub: sub)
            return (200..<300).contains(response.statusCode) ? (true, nil) : (false, "\(contact) answered \(Self.describe(response))")
        } catch {
            return (false, "\(contact): \(error)")
        }
    }

    /// A MESSAGE to the sub-community's resource at `contact` (signed on its way out by ``prepare(_:to:)``).
    func sendSubMessage(_ verb: CommunityBodies.SubVerb, _ bytes: [UInt8], to contact: String, in id: CommunityID, sub: String) async throws
        -> SIPResponse
    {
        guard let uri = SIPURI(contact), !uri.host.isEmpty else { throw ControlError(.badArgument, "'\(contact)' is not a SIP URI") }
        var target = CommunityResource(community: id, subCommunity: sub).uri(host: uri.host, port: uri.port)
        target.parameters = uri.parameters
        var generator = SystemRandomNumberGenerator()
        let request = SIPPagerMessage.make(
            to: target, from: environment.addressOfRecord,
            body: SIPEventBody(contentType: CommunityBodies.subCommunityType, text: CommunityBodies.subMessage(verb, bytes)), using: &generator)
        let destination: SIPDestination
        do {
            destination = try OverlaySIPCarriage.destination(of: OverlayAddress(target.description))
        } catch {
            throw ControlError(.badArgument, "'\(contact)' has no destination: \(error.detail)")
        }
        do {
            return try await transport.send(request, to: destination)
        } catch {
            throw ControlError(.communityRefused, "\(contact) did not answer: \(error)")
        }
    }

    /// `403 Membership Revoked` style text of a response: status, reason and the body's explanation.
    static func describe(_ response: SIPResponse) -> String {
        let detail = response.body.readableBytes > 0 ? ": " + String(decoding: response.body.readableBytesView, as: UTF8.self) : ""
        return "\(response.statusCode) \(response.reasonPhrase)\(detail)"
    }

    /// A short reason phrase for a refusal with a community error (of an invitation, or of another object).
    static func reasonPhrase(_ code: CommunityError.Code, invitation: Bool = false) -> String {
        let object = invitation ? "Invitation " : ""
        switch code {
        case .malformed, .wrongVersion: return "Malformed \(invitation ? "Invitation" : "Request")"
        case .expired: return "\(object)Expired"
        case .notYetValid: return "Not Yet Valid"
        case .foreign: return invitation ? "Invitation For Another Community" : "Not A Member Of This Community"
        case .badSignature: return "Bad \(object)Signature"
        case .nonceAlreadyUsed: return "Invitation Already Used"
        case .revoked: return "Membership Revoked"
        case .revokedIssuer: return "Issuer Revoked"
        case .notAllowed: return "Not Allowed"
        case .untrustedChain: return "Untrusted Certificate Chain"
        case .invalidName: return "Invalid Name"
        case .keyFile: return "Key File Problem"
        }
    }
}
