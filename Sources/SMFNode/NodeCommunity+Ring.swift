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

    /// Joins the ring of `id` (or starts it), then keeps the node in sync, each in its own loop so a slow one (a
    /// lookup timing out) never holds up another: revocations fetched every half stabilisation period, revocations
    /// and certificates this node could not deliver sent again every period, members and sub-community statements
    /// fetched every period, own records stored again every half record lifetime (within a period when a store
    /// failed, backing off to ten: ``RepublishSchedule``), and a check every 10 periods that the node is not alone in
    /// the ring. Runs until cancelled (leave, shutdown).
    func maintainRing(_ id: CommunityID, bootstrap: [OverlayAddress], mayCreate: Bool) async {
        guard await joinRing(id, bootstrap: bootstrap, mayCreate: mayCreate) else { return }
        await syncRevocations(id)
        let period = environment.overlay.stabilizeInterval
        await withDiscardingTaskGroup { group in
            group.addTask { await self.every(self.syncPeriod, id) { await $0.syncRevocations(id) } }
            group.addTask {
                await self.every(period, id) {
                    await $0.retryRevocationDeliveries(id)
                    await $0.retryCertificateDeliveries(id)
                    await $0.retryRevocationStore(id)
                }
            }
            group.addTask { await self.keepOwnRecordsPublished(id) }
            group.addTask {
                await self.every(period, id) {
                    await $0.syncMembers(id)
                    await $0.syncSubCommunities(id)
                }
            }
            group.addTask { await self.every(period * 10, id) { await $0.rejoinIfAlone(id) } }
        }
    }

    /// Runs `body` every `interval` (first after one interval) while the node is in community `id`.
    private nonisolated func every(_ interval: Duration, _ id: CommunityID, _ body: (NodeCommunities) async -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            guard await isMember(of: id) else { return }
            await body(self)
        }
    }

    private func isMember(of id: CommunityID) -> Bool { communities[id] != nil }

    /// Stores this node's records in the ring of `id` now, again every half record lifetime, and sooner when a
    /// store failed, while the node is in the community.
    private nonisolated func keepOwnRecordsPublished(_ id: CommunityID) async {
        var schedule = RepublishSchedule(refresh: environment.recordLifetime / 2, stabilizeInterval: environment.overlay.stabilizeInterval)
        while !Task.isCancelled, await isMember(of: id) {
            let delay = schedule.delay(afterStoring: await publishOwnRecords(id))
            do { try await Task.sleep(for: delay) } catch { return }
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
    /// Returns false when a store failed (revocations not stored are tried again by the sync loop on their own).
    @discardableResult
    func publishOwnRecords(_ id: CommunityID) async -> Bool {
        guard let announcement = await ownAnnouncement(id) else { return true }
        var stored = await put(id, name: MemberAnnouncement.resourceName(community: id), value: announcement)
        guard let state = communities[id] else { return stored }
        let revocations = state.member.verifier.revocations
        if state.member.role.mayAdmit, revocations.count > 0 {
            await putRevocations(id)
        }
        let created = state.subs.values.filter { $0.charter.creatorKey == identity.publicKey }.map(\.charter).sorted { $0.name < $1.name }
        if !created.isEmpty {
            stored = await put(id, name: SubCommunityRecords.index(community: id), value: Array(created.map(\.name).joined(separator: "\n").utf8)) && stored
            for charter in created {
                stored = await put(id, name: SubCommunityRecords.charter(community: id, name: charter.name), value: charter.encoded) && stored
            }
        }
        for (name, certificate) in state.ownSubCertificates.sorted(by: { $0.key < $1.key }) {
            stored = await put(id, name: SubCommunityRecords.members(community: id, name: name), value: certificate.encoded) && stored
        }
        for name in state.subs.keys.sorted() {
            stored = await putStatements(id, sub: name) && stored
        }
        return stored
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

    /// Stores the revocations in the ring again when the last attempt failed.
    func retryRevocationStore(_ id: CommunityID) async {
        if revocationsToStore.contains(id) { await putRevocations(id) }
    }

    /// Sends a new revocation to every member this node knows (except the revoked one), then stores it in the ring.
    /// Members that do not take it now get it again every stabilisation period until they do.
    func spread(_ revocation: Revocation, in id: CommunityID) async {
        let members = ((try? store.members(of: id)) ?? []).filter { $0.publicKey != identity.publicKey && $0.publicKey != revocation.revokedKey }
        await send([revocation], to: members.map { ($0.nodeID, $0.contact) }, in: id)
        await putRevocations(id)
    }

    /// Sends revocations to members (each in its own MESSAGE) and remembers those not taken.
    private func send(_ revocations: [Revocation], to members: [(NodeID, String?)], in id: CommunityID) async {
        let addressOfRecord = environment.addressOfRecord
        let transport = self.transport
        let failed = await withTaskGroup(of: (NodeID, [Revocation]).self) { group in
            for (nodeID, contact) in members {
                guard let contact, let uri = SIPURI(contact), !uri.host.isEmpty else {
                    continue
                }
                let target = CommunityResource(community: id, subCommunity: nil).uri(host: uri.host, port: uri.port)
                group.addTask {
                    var missed: [Revocation] = []
                    for revocation in revocations {
                        var generator = SystemRandomNumberGenerator()
                        let request = SIPPagerMessage.make(
                            to: target, from: addressOfRecord,
                            body: SIPEventBody(contentType: CommunityBodies.revocationType, text: base64URL(revocation.encoded)), using: &generator)
                        guard let destination = try? OverlaySIPCarriage.destination(of: OverlayAddress(target.description)),
                            let response = try? await transport.send(request, to: destination), (200..<300).contains(response.statusCode)
                        else {
                            missed.append(revocation)
                            continue
                        }
                    }
                    return (nodeID, missed)
                }
            }
            var failed: [(NodeID, [Revocation])] = []
            for await result in group where !result.1.isEmpty { failed.append(result) }
            return failed
        }
        for (nodeID, missed) in failed { undeliveredRevocations[id, default: [:]][nodeID, default: []] += missed }
    }

    /// Sends again the revocations a member has not taken yet.
    func retryRevocationDeliveries(_ id: CommunityID) async {
        guard let waiting = undeliveredRevocations[id], !waiting.isEmpty, let state = communities[id] else { return }
        undeliveredRevocations[id] = nil
        let members = (try? store.members(of: id)) ?? []
        var targets: [(NodeID, String?)] = []
        var revocations: [Revocation] = []
        for (nodeID, pending) in waiting {
            guard let member = members.first(where: { $0.nodeID == nodeID }), !state.member.verifier.revocations.isRevoked(member.publicKey) else {
                continue
            }
            targets.append((nodeID, member.contact))
            for revocation in pending where !revocations.contains(revocation) { revocations.append(revocation) }
        }
        await send(revocations, to: targets, in: id)
    }

    /// A node that finds itself alone in a community's ring while it knows other members (it started the ring when
    /// none answered, or its only neighbour was revoked) joins them again with a fresh ring node.
    func rejoinIfAlone(_ id: CommunityID) async {
        guard let state = communities[id] else { return }
        let status = await state.ring.status()
        guard status.phase == .joined, !status.successors.contains(where: { $0.id != identity.nodeID }) else { return }
        let peers = knownPeers(id)
        guard !peers.isEmpty else { return }
        let fresh = makeRing(state.community)
        do throws(OverlaySIPError) {
            try await fresh.join(bootstrap: peers.map(\.address), attemptTimeout: max(.seconds(3), environment.overlay.requestTimeout * 6))
        } catch {
            await fresh.stop()
            return
        }
        guard let old = communities[id]?.ring else {
            await fresh.stop()
            return
        }
        communities[id]?.ring = fresh
        await old.stop()
        logger.info("rejoined the community ring", metadata: ["smf.community": "\(state.community)"])
        await publishOwnRecords(id)
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

    /// Stores the removals and leaves this node signed in sub-community `sub` (none: nothing stored); false when the
    /// ring did not take them.
    @discardableResult
    func putStatements(_ id: CommunityID, sub: String) async -> Bool {
        guard let state = communities[id], let subCommunity = state.subs[sub] else { return true }
        let mine = subCommunity.removals.values.filter { $0.signerKey == identity.publicKey }.sorted { $0.at > $1.at }
        guard !mine.isEmpty else { return true }
        var items: [[UInt8]] = []
        var size = 0
        for statement in mine {
            let encoded = statement.encoded
            guard size + encoded.count + 2 <= ResourceRecord.maximumValueSize else { break }
            items.append(encoded)
            size += encoded.count + 2
        }
        return await put(id, name: SubCommunityRecords.statements(community: id, name: sub), value: SubCommunityRecords.encodeList(items))
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
