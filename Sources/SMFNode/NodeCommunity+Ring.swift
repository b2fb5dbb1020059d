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

extension NodeCommunities {
    // MARK: - The community's ring

    /// Joins the ring of `id` (or starts it), stores this node's records there, then keeps the node in sync:
    /// revocations every half stabilisation period, members and sub-community statements every period, own
    /// records again every half record lifetime. Runs until cancelled (leave, shutdown).
    func maintainRing(_ id: CommunityID, bootstrap: [OverlayAddress], mayCreate: Bool) async {
        guard await joinRing(id, bootstrap: bootstrap, mayCreate: mayCreate) else { return }
        await publishOwnRecords(id)
        await syncMembers(id)
        let clock = ContinuousClock()
        var lastPublished = clock.now
        var tick = 0
        while !Task.isCancelled, communities[id] != nil {
            do { try await Task.sleep(for: syncPeriod) } catch { return }
            await syncRevocations(id)
            if revocationsToStore.contains(id) { await putRevocations(id) }
            if tick % 2 == 1 {
                await syncMembers(id)
                await syncSubCommunities(id)
                await retryCertificateDeliveries(id)
            }
            if lastPublished.duration(to: clock.now) >= environment.recordLifetime / 2 {
                await publishOwnRecords(id)
                lastPublished = clock.now
            }
            tick += 1
        }
    }

    /// Joins through `bootstrap` and the members this node knows; starts the ring when it knows nobody, or (with
    /// `mayCreate`) when nobody answered: at once if this node has the lowest Node-ID among them, else after a
    /// second round (so a community whose nodes all restart forms one ring when they come back one by one).
    private func joinRing(_ id: CommunityID, bootstrap: [OverlayAddress], mayCreate: Bool) async -> Bool {
        guard let ring = communities[id]?.ring else { return false }
        let attempt = max(.seconds(3), environment.overlay.requestTimeout * 6)
        var rounds = 0
        while !Task.isCancelled, communities[id] != nil {
            let peers = knownPeers(id)
            var candidates = bootstrap
            for peer in peers.map(\.address) where !candidates.contains(peer) { candidates.append(peer) }
            if candidates.isEmpty, mayCreate {
                return await startRing(ring, id, reason: "no other member known")
            }
            do throws(OverlaySIPError) {
                try await ring.join(bootstrap: candidates, attemptTimeout: attempt)
                logger.info("joined the community ring", metadata: ["smf.community": "\(communities[id]?.community.description ?? "")"])
                return true
            } catch {
                if case .stopped = error.code { return false }
                logger.warning("cannot join the community ring yet", metadata: ["smf.error": "\(error)"])
            }
            rounds += 1
            let lowest = peers.allSatisfy { identity.nodeID < $0.id }
            if mayCreate, rounds >= 2 || lowest {
                return await startRing(ring, id, reason: "no known member answered")
            }
            do { try await Task.sleep(for: syncPeriod) } catch { return false }
        }
        return false
    }

    private func startRing(_ ring: OverlayNode, _ id: CommunityID, reason: String) async -> Bool {
        do throws(OverlaySIPError) {
            try await ring.join(bootstrap: [])
        } catch {
            return false
        }
        logger.info("started the community ring", metadata: ["smf.community": "\(communities[id]?.community.description ?? "")", "smf.reason": "\(reason)"])
        return true
    }

    /// Members of `id` with a contact, other than this node and not revoked: the ring's bootstrap candidates.
    func knownPeers(_ id: CommunityID) -> [OverlayPeer] {
        guard let state = communities[id], let members = try? store.members(of: id) else { return [] }
        return members.compactMap { member in
            guard member.publicKey != identity.publicKey, !state.member.verifier.revocations.isRevoked(member.publicKey),
                let contact = member.contact, let uri = SIPURI(contact), !uri.host.isEmpty
            else { return nil }
            let address = OverlayAddress("\(uri.host):\(uri.port ?? 5060)")
            guard address != environment.overlayAddress else { return nil }
            return OverlayPeer(id: member.nodeID, address: address)
        }
    }

    /// Stores this node's records in the ring of `id`: its announcement, the revocations it knows (owners and
    /// admins), and for its sub-communities the charters it created, its certificates and the statements it signed.
    func publishOwnRecords(_ id: CommunityID) async {
        guard let announcement = await ownAnnouncement(id) else { return }
        await put(id, name: MemberAnnouncement.resourceName(community: id), value: announcement)
        guard let state = communities[id] else { return }
        let revocations = state.member.verifier.revocations
        if state.member.role.mayAdmit, revocations.count > 0 {
            await putRevocations(id)
        }
        let created = state.subs.values.filter { $0.charter.creatorKey == identity.publicKey }.map(\.charter).sorted { $0.name < $1.name }
        if !created.isEmpty {
            await put(id, name: SubCommunityRecords.index(community: id), value: Array(created.map(\.name).joined(separator: "\n").utf8))
            for charter in created {
                await put(id, name: SubCommunityRecords.charter(community: id, name: charter.name), value: charter.encoded)
            }
        }
        for (name, certificate) in state.ownSubCertificates.sorted(by: { $0.key < $1.key }) {
            await put(id, name: SubCommunityRecords.members(community: id, name: name), value: certificate.encoded)
        }
        for name in state.subs.keys.sorted() {
            await putStatements(id, sub: name)
        }
    }

    /// Stores the revocations this node knows in the ring (one record per owner or admin); when the ring cannot
    /// take it now, the sync loop tries again every half period.
    func putRevocations(_ id: CommunityID) async {
        guard let state = communities[id] else { return }
        let record = state.member.verifier.revocations.record(
            community: id, sequence: nextSequence(id), expiry: now.advanced(by: environment.recordLifetime), by: identity)
        do throws(OverlaySIPError) {
            try await state.ring.put(record)
            revocationsToStore.remove(id)
        } catch {
            revocationsToStore.insert(id)
            logger.info("cannot store the revocations in the ring yet", metadata: ["smf.error": "\(error)"])
        }
    }

    /// Sends a new revocation to every member this node knows (except the revoked one), then stores it in the ring.
    func spread(_ revocation: Revocation, in id: CommunityID) async {
        let members = ((try? store.members(of: id)) ?? []).filter { $0.publicKey != identity.publicKey && $0.publicKey != revocation.revokedKey }
        let body = base64URL(revocation.encoded)
        await withTaskGroup(of: Void.self) { group in
            for member in members {
                guard let contact = member.contact, let uri = SIPURI(contact), !uri.host.isEmpty else { continue }
                let target = CommunityResource(community: id, subCommunity: nil).uri(host: uri.host, port: uri.port)
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    let request = SIPPagerMessage.make(
                        to: target, from: self.environment.addressOfRecord,
                        body: SIPEventBody(contentType: CommunityBodies.revocationType, text: body), using: &generator)
                    guard let destination = try? OverlaySIPCarriage.destination(of: OverlayAddress(target.description)) else { return }
                    _ = try? await self.transport.send(request, to: destination)
                }
            }
        }
        await putRevocations(id)
    }

    /// A revocation a member sent (MESSAGE `application/smf-revocation`): applied when it verifies.
    func receiveRevocation(_ request: SIPRequest, in id: CommunityID) async -> SIPResponse {
        let text = String(decoding: request.body.readableBytesView, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = fromBase64URL(text), let revocation = try? Revocation(decoding: bytes) else {
            return refusal(request, 400, "Malformed Revocation", detail: "the body is not a URL-safe base64 revocation")
        }
        guard let state = communities[id] else { return SIPEventMessages.response(503, to: request) }
        do {
            try state.member.verifier.check(revocation, now: now)
        } catch {
            return refusal(request, 403, Self.reasonPhrase(error.code), detail: error.message)
        }
        await apply(revocation, in: id)
        return SIPEventMessages.response(200, to: request)
    }

    /// Stores the removals and leaves this node signed in sub-community `sub` (none: nothing stored).
    func putStatements(_ id: CommunityID, sub: String) async {
        guard let state = communities[id], let subCommunity = state.subs[sub] else { return }
        let mine = subCommunity.removals.values.filter { $0.signerKey == identity.publicKey }.sorted { $0.at > $1.at }
        guard !mine.isEmpty else { return }
        var items: [[UInt8]] = []
        var size = 0
        for statement in mine {
            let encoded = statement.encoded
            guard size + encoded.count + 2 <= ResourceRecord.maximumValueSize else { break }
            items.append(encoded)
            size += encoded.count + 2
        }
        await put(id, name: SubCommunityRecords.statements(community: id, name: sub), value: SubCommunityRecords.encodeList(items))
    }

    // MARK: - Keeping in sync

    /// Fetches the revocations stored in the ring and applies the new ones.
    func syncRevocations(_ id: CommunityID) async {
        let records = await records(id, name: RevocationSet.resourceName(community: id))
        for record in records {
            guard let revocations = try? RevocationSet.decode(record.value) else { continue }
            for revocation in revocations { await apply(revocation, in: id) }
        }
    }

    /// Applies a revocation after checking it: stored, added to both verifiers, and announced as an event; the
    /// revoked member's subscriptions get no more NOTIFYs (nothing is sent to a revoked member's address).
    func apply(_ revocation: Revocation, in id: CommunityID) async {
        guard var state = communities[id] else { return }
        let moment = now
        let event: MembershipEvent?
        do {
            event = try state.member.receive(revocation, now: moment)
        } catch {
            logger.debug("ignored a revocation that does not verify", metadata: ["smf.error": "\(error)"])
            return
        }
        guard let event else { return }
        try? state.verifier.membership.accept(revocation, now: moment)
        if revocation.revokedKey == identity.publicKey {
            state.revokedSelf = revocation
            logger.error("this node was revoked from the community", metadata: ["smf.community": "\(state.community)", "smf.reason": "\(revocation.reason)"])
        }
        communities[id] = state
        do {
            try store.saveRevocation(revocation)
        } catch {
            logger.error("cannot store a revocation", metadata: ["smf.error": "\(error)"])
        }
        refreshMemberEndpoints(id)
        await publish(event)
    }

    /// Fetches the members' announcements and stores what changed (new members, contacts, services, leaves).
    func syncMembers(_ id: CommunityID) async {
        let records = await records(id, name: MemberAnnouncement.resourceName(community: id))
        guard !records.isEmpty else { return }
        var events: [MembershipEvent] = []
        guard let state = communities[id], let known = try? store.members(of: id) else { return }
        let moment = now
        for record in records where record.ownerPublicKey != identity.publicKey {
            guard let announcement = try? JSONDecoder().decode(MemberAnnouncement.self, from: Data(record.value)),
                let credential = try? MembershipCredential(text: announcement.credential),
                let verified = try? state.member.verifier.verify(credential, now: moment), verified.publicKey == record.ownerPublicKey
            else { continue }
            let existing = known.first { $0.publicKey == verified.publicKey }
            if announcement.left {
                guard existing != nil else { continue }
                _ = try? store.removeMember(verified.nodeID, from: id)
                events.append(MembershipEvent(kind: .left, communityID: id, member: verified.nodeID, role: verified.role, by: nil, at: moment))
                continue
            }
            let entry = MemberRecord(
                communityID: id, publicKey: verified.publicKey, role: verified.role, services: announcement.services, credential: credential,
                contact: announcement.contact, updatedAt: moment)
            if let existing, existing.contact == entry.contact, existing.services == entry.services, existing.role == entry.role,
                existing.credential == entry.credential
            {
                continue
            }
            do {
                try store.saveMember(entry)
            } catch {
                logger.warning("cannot store a member", metadata: ["smf.error": "\(error)"])
                continue
            }
            if existing == nil {
                events.append(
                    MembershipEvent(
                        kind: .joined, communityID: id, member: verified.nodeID, role: verified.role, by: credential.certificates.dropFirst().first?.nodeID,
                        at: credential.leaf?.issuedAt ?? moment))
            }
        }
        refreshMemberEndpoints(id)
        for event in events { await publish(event) }
    }

    /// Fetches the removals and leaves of the sub-communities this node knows and applies the new ones.
    func syncSubCommunities(_ id: CommunityID) async {
        guard let names = communities[id]?.subs.keys.sorted() else { return }
        for name in names {
            let records = await records(id, name: SubCommunityRecords.statements(community: id, name: name))
            for record in records {
                for bytes in SubCommunityRecords.decodeList(record.value) ?? [] {
                    guard let statement = try? SubCommunityStatement(decoding: bytes) else { continue }
                    await apply(statement, in: id)
                }
            }
        }
    }
}
