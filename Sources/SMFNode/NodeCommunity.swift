import Community
import ControlChannel
import Foundation
import Logging
import Overlay
import OverlaySIP
import ServiceLifecycle
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage

extension ControlError.Code {
    /// A community operation was refused (by this node's membership core or by a peer); the message says why.
    public static let communityRefused = ControlError.Code("smf.community")
}

/// One community this node belongs to, as the running node holds it.
struct CommunityState: Sendable {
    /// This node's membership (credential, revocations, redeemed invitation nonces).
    var member: CommunityMember
    /// Checks incoming requests of the community; holds the replay cache for the node's lifetime.
    var verifier: RequestVerifier
    /// The sub-communities this node knows, by name.
    var subs: [String: SubCommunity]
    /// This node's own sub-community certificates, by sub-community.
    var ownSubCertificates: [String: MemberCertificate]
    /// Where the founding key is kept, when this node founded the community.
    var foundingKeyPath: String?
    /// The community's own overlay ring (replaced when the node rejoins after finding itself alone).
    var ring: OverlayNode
    /// Joins the ring and keeps membership in sync with it.
    var ringTask: Task<Void, Never>?
    /// Set when this node learns that it was revoked itself.
    var revokedSelf: Revocation?
    /// The last sequence number of a record this node stored in the ring.
    var lastSequence: UInt64 = 0

    var community: Community { member.community }
    var id: CommunityID { member.community.id }
}

/// The node's communities (docs/community.md "In the running node"): their membership from SQLite, one overlay ring
/// each, the gate every incoming request passes (``screen(_:)``), the signing of outgoing requests
/// (``prepare(_:to:)``), the `smf-membership` events, and the operations behind `smf community …` and `smf sub …`.
///
/// An actor: a request is verified (and its nonce entered in the replay cache) in one step, so a replay racing
/// the original cannot pass. Calls that wait for the network re-read the state they need afterwards.
actor NodeCommunities {
    /// What the communities need to know about the node.
    struct Environment: Sendable {
        var dataDirectory: String
        /// The node's address of record, `sip:USER@HOST:PORT`; also its contact in announcements.
        var addressOfRecord: SIPURI
        /// Where peers reach the node's overlay rings (its first UDP listener).
        var overlayAddress: OverlayAddress
        /// Tunables of every community ring (the same as the node's default ring).
        var overlay: OverlayConfiguration
        /// How long the records this node stores in a ring live; they are stored again every half lifetime.
        var recordLifetime: Duration = .seconds(3600)
        /// The service types the node offers (`smf run --offer`), announced to the members as "the services they offer".
        var offeredServices: [String] = []
    }

    nonisolated let identity: NodeIdentity
    let store: SQLiteMembershipStore
    let transport: SIPTransport
    let endpoint: SIPEndpoint
    let environment: Environment
    let logger: Logger
    /// Unix time in ms; read by the node (the driver), never by the membership core.
    let clock: @Sendable () -> OverlayInstant
    var communities: [CommunityID: CommunityState] = [:]
    /// Communities in the store whose own credential no longer verifies, with the reason.
    var inactive: [CommunityID: (community: Community, reason: String)] = [:]
    /// `host:port` of every known, non-revoked member of each community: requests to them are signed.
    var memberEndpoints: [CommunityID: Set<String>] = [:]
    /// `host:port` of the members of each community that this node knows were revoked: nothing is sent to them.
    var revokedEndpoints: [CommunityID: Set<String>] = [:]
    /// Communities whose revocations the ring has not taken yet (tried again every sync period).
    var revocationsToStore: Set<CommunityID> = []
    /// Sub-community certificates this node issued as owner that have not reached their member yet (sent again
    /// every stabilisation period).
    var undeliveredCertificates: [CommunityID: [MemberCertificate]] = [:]
    /// Revocations this node issued that have not reached a member yet, by member (sent again every
    /// stabilisation period, so a member that was down learns them as soon as it is back).
    var undeliveredRevocations: [CommunityID: [NodeID: [Revocation]]] = [:]

    init(
        identity: NodeIdentity, store: SQLiteMembershipStore, transport: SIPTransport, endpoint: SIPEndpoint, environment: Environment,
        logger: Logger, clock: @escaping @Sendable () -> OverlayInstant
    ) {
        self.identity = identity
        self.store = store
        self.transport = transport
        self.endpoint = endpoint
        self.environment = environment
        self.logger = logger
        self.clock = clock
    }

    var now: OverlayInstant { clock() }

    /// How often the node fetches revocations from each ring: half a stabilisation period, so a revocation
    /// stored in the ring reaches every member within one period.
    var syncPeriod: Duration { max(.milliseconds(25), environment.overlay.stabilizeInterval / 2) }

    // MARK: - Start and stop

    /// Restores every stored community (membership, revocations, sub-communities) and starts its ring, which
    /// rejoins through the members it knows.
    func start() {
        let stored: [StoredCommunity]
        do {
            stored = try store.communities()
        } catch {
            logger.error("cannot read the stored communities", metadata: ["smf.error": "\(error)"])
            return
        }
        for entry in stored {
            guard let credential = entry.credential else { continue }
            do {
                try restore(entry, credential: credential)
            } catch {
                inactive[entry.community.id] = (entry.community, "\(error)")
                logger.error(
                    "this node's membership is no longer valid", metadata: ["smf.community": "\(entry.community)", "smf.error": "\(error)"])
            }
        }
    }

    private func restore(_ entry: StoredCommunity, credential: MembershipCredential) throws {
        let id = entry.community.id
        let moment = now
        var revocations = MembershipVerifier(community: entry.community)
        for revocation in try store.revocations(of: id) {
            do { try revocations.accept(revocation, now: moment) } catch { logger.warning("a stored revocation no longer verifies", metadata: ["smf.error": "\(error)"]) }
        }
        let member = try CommunityMember(
            identity: identity, credential: credential, community: entry.community, revocations: revocations.revocations,
            usedNonces: try store.usedInvitationNonces(of: id), now: moment)
        var subs: [String: SubCommunity] = [:]
        var own: [String: MemberCertificate] = [:]
        let certificates = try store.subCommunityCertificates(of: id)
        let statements = try store.subCommunityStatements(of: id)
        for charter in try store.subCommunities(of: id) {
            do {
                let sub = try SubCommunity.restore(
                    charter: charter, certificates: certificates, statements: statements, membership: member.verifier, now: moment)
                subs[charter.name] = sub
                if let certificate = certificates.first(where: { $0.subCommunity == charter.name && $0.subjectKey == identity.publicKey }),
                    (try? sub.verify(certificate, membership: member.verifier, now: moment)) != nil
                {
                    own[charter.name] = certificate
                }
            } catch {
                logger.warning("a stored sub-community no longer verifies", metadata: ["smf.sub": "\(charter.name)", "smf.error": "\(error)"])
            }
        }
        activate(member: member, subs: subs, ownSubCertificates: own, foundingKeyPath: entry.foundingKeyPath, bootstrap: [], mayCreateRing: true)
        logger.info(
            "community restored",
            metadata: ["smf.community": "\(entry.community)", "smf.role": "\(member.role.rawValue)", "smf.subs": "\(subs.count)"])
    }

    /// Starts the rings' graceful leave and stops their timers (graceful shutdown, before the transport closes).
    func close() async {
        let states = Array(communities.values)
        for state in states { state.ringTask?.cancel() }
        for state in states {
            await state.ring.leave()
            await state.ring.stop()
        }
    }

    /// Puts a community in service: its verifier, its ring and the task that joins the ring and keeps it in sync.
    func activate(
        member: CommunityMember, subs: [String: SubCommunity], ownSubCertificates: [String: MemberCertificate], foundingKeyPath: String?,
        bootstrap: [OverlayAddress], mayCreateRing: Bool
    ) {
        let id = member.community.id
        var verifier = RequestVerifier(membership: member.verifier)
        verifier.subCommunities = subs
        let ring = makeRing(member.community)
        communities[id] = CommunityState(
            member: member, verifier: verifier, subs: subs, ownSubCertificates: ownSubCertificates, foundingKeyPath: foundingKeyPath, ring: ring)
        inactive[id] = nil
        let task = Task { await self.maintainRing(id, bootstrap: bootstrap, mayCreate: mayCreateRing) }
        communities[id]?.ringTask = task
        refreshMemberEndpoints(id)
    }

    /// A ring node of `community` on the node's transport, told apart from the others by `Overlay-Ring: <id>`.
    func makeRing(_ community: Community) -> OverlayNode {
        var ringLogger = logger
        ringLogger[metadataKey: "smf.community"] = "\(community)"
        return OverlayNode(
            identity: identity, address: environment.overlayAddress, transport: transport, configuration: environment.overlay, epoch: now,
            logger: ringLogger, ring: community.id.description)
    }

    // MARK: - Looking things up

    /// The community a command names (by name, or by a prefix of its ID), or the only one when none is named.
    func resolve(_ name: String?) throws(ControlError) -> CommunityID {
        let all = communities.values.sorted { $0.community.name < $1.community.name }
        guard let name, !name.isEmpty else {
            switch all.count {
            case 0:
                throw ControlError(
                    .communityRefused, "this node belongs to no community; create one with `smf community create NAME` or join one")
            case 1: return all[0].id
            default:
                throw ControlError(
                    .badArgument,
                    "this node belongs to several communities (\(all.map(\.community.name).joined(separator: ", "))); name one with --community NAME")
            }
        }
        let matches = all.filter { $0.community.name == name || (name.count >= 6 && $0.id.description.hasPrefix(name.lowercased())) }
        guard let first = matches.first else {
            let known = all.isEmpty ? "none" : all.map(\.community.name).joined(separator: ", ")
            throw ControlError(.communityRefused, "this node is not a member of a community named \"\(name)\" (it belongs to: \(known))")
        }
        guard matches.count == 1 else {
            throw ControlError(.badArgument, "several communities are named \"\(name)\"; name one by the first digits of its ID: \(matches.map(\.id.shortDescription).joined(separator: ", "))")
        }
        return first.id
    }

    func state(_ id: CommunityID) throws(ControlError) -> CommunityState {
        guard let state = communities[id] else { throw ControlError(.communityRefused, "this node left the community meanwhile") }
        return state
    }

    /// The stored community whose 12-digit short ID is `short`, if this node is in it.
    func communityID(short: String) -> CommunityID? {
        communities.keys.first { $0.shortDescription == short.lowercased() }
    }

    /// The ring of a community (for `smf overlay … --community`).
    func ring(of name: String?) throws(ControlError) -> OverlayNode {
        try state(try resolve(name)).ring
    }

    /// The URI of a community resource at this node.
    func resourceURI(_ id: CommunityID, sub: String?) -> SIPURI {
        CommunityResource(community: id, subCommunity: sub).uri(host: environment.addressOfRecord.host, port: environment.addressOfRecord.port)
    }

    /// The sub-communities this node is a member of, for the service runtime.
    func memberScopes() -> [(community: Community, sub: String)] {
        communities.values.flatMap { state in state.ownSubCertificates.keys.sorted().map { (state.community, $0) } }
    }

    /// The name of a community this node is in.
    func community(_ id: CommunityID) -> Community? { communities[id]?.community }

    /// The names of the communities this node is a member of.
    func memberCommunityNames() -> [String] { communities.values.map(\.community.name) }

    /// The ring of the one community named `name` that this node is in, with the next sequence for a record this
    /// node stores there (the service runtime's records); nil when the node is in no community of that name.
    func serviceRing(named name: String) -> (ring: OverlayNode, sequence: UInt64)? {
        let matches = communities.values.filter { $0.community.name == name }.sorted { $0.id < $1.id }
        guard let state = matches.first else { return nil }
        return (state.ring, nextSequence(state.id))
    }

    /// The member of `id` whose Node-ID starts with `prefix` (at least 6 hex digits), from the stored members.
    func member(_ prefix: String, in id: CommunityID) throws(ControlError) -> MemberRecord {
        let wanted = prefix.lowercased()
        guard wanted.count >= 6, wanted.allSatisfy(\.isHexDigit) else {
            throw ControlError(.badArgument, "'\(prefix)' is not a Node-ID (at least 6 of its 40 hex digits)")
        }
        let members: [MemberRecord]
        do {
            members = try store.members(of: id)
        } catch {
            throw ControlError(.internalError, "cannot read the members: \(error)")
        }
        let matches = members.filter { $0.nodeID.description.hasPrefix(wanted) }
        guard let first = matches.first else {
            throw ControlError(.communityRefused, "no member of \(communities[id]?.community.description ?? "the community") has a Node-ID starting with \(wanted)")
        }
        guard matches.count == 1 else {
            throw ControlError(.badArgument, "\(matches.count) members have a Node-ID starting with \(wanted); give more digits")
        }
        return first
    }

    // MARK: - Membership events (package smf-membership)

    /// Sets the event as the state of the community's resource (and the sub-community's) at this node: every
    /// watcher gets a NOTIFY with it.
    func publish(_ event: MembershipEvent) async {
        let body = SIPEventBody(contentType: MembershipEvent.contentType, text: event.text)
        var resources = [resourceURI(event.communityID, sub: nil)]
        if let sub = event.subCommunity { resources.append(resourceURI(event.communityID, sub: sub)) }
        for resource in resources {
            do {
                try await endpoint.setState(package: MembershipEvent.eventPackage, resource: resource, body: body)
            } catch {
                logger.warning("cannot publish a membership event", metadata: ["smf.event": "\(event)", "smf.error": "\(error)"])
            }
        }
        logger.info("membership changed", metadata: ["smf.event": "\(event)"])
    }

    // MARK: - Ring records

    /// The next sequence for a record this node stores in the ring of `id` (rising across restarts).
    func nextSequence(_ id: CommunityID) -> UInt64 {
        let floor = UInt64(clamping: now.milliseconds)
        let next = max((communities[id]?.lastSequence ?? 0) + 1, floor)
        communities[id]?.lastSequence = next
        return next
    }

    /// Stores a `membership` record signed by this node in the ring of `id`; false when the ring refused it.
    @discardableResult
    func put(_ id: CommunityID, name: String, value: [UInt8]) async -> Bool {
        guard let ring = communities[id]?.ring else { return false }
        let record = ResourceRecord.signed(
            kind: .membership, name: name, value: value, sequence: nextSequence(id), expiry: now.advanced(by: environment.recordLifetime),
            by: identity)
        do throws(OverlaySIPError) {
            try await ring.put(record)
            return true
        } catch {
            logger.warning("cannot store a community record", metadata: ["overlay.record": "\(name)", "smf.error": "\(error)"])
            return false
        }
    }

    /// Removes this node's `membership` record under `name` (a signed tombstone).
    func removeRecord(_ id: CommunityID, name: String) async {
        guard let ring = communities[id]?.ring else { return }
        do throws(OverlaySIPError) {
            try await ring.remove(.membership, name: name, sequence: nextSequence(id), expiry: now.advanced(by: environment.recordLifetime))
        } catch {
            logger.warning("cannot remove a community record", metadata: ["overlay.record": "\(name)", "smf.error": "\(error)"])
        }
    }

    /// The live `membership` records under `name` in the ring of `id` (empty when the ring cannot be asked).
    func records(_ id: CommunityID, name: String) async -> [ResourceRecord] {
        guard let ring = communities[id]?.ring else { return [] }
        do throws(OverlaySIPError) {
            return try await ring.get(name, kind: .membership)
        } catch {
            logger.debug("cannot fetch community records", metadata: ["overlay.record": "\(name)", "smf.error": "\(error)"])
            return []
        }
    }

    /// What this node announces about itself in the ring.
    func ownAnnouncement(_ id: CommunityID, left: Bool = false) async -> [UInt8]? {
        guard let state = communities[id] else { return nil }
        let services = environment.offeredServices
        let announcement = MemberAnnouncement(
            credential: state.member.credential.text, contact: environment.addressOfRecord.description, services: services, left: left)
        return try? Array(JSONEncoder().encode(announcement))
    }

    /// The node's own member entry in its store.
    func ownRecord(_ state: CommunityState, services: [String]) -> MemberRecord {
        MemberRecord(
            communityID: state.id, publicKey: identity.publicKey, role: state.member.role, services: services, credential: state.member.credential,
            contact: environment.addressOfRecord.description, updatedAt: now)
    }
}

/// Holds the node's ``NodeCommunities`` once the node started; the router, the transport's outbound hook and the
/// control commands look it up when they run.
final class NodeCommunitySlot: @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private var communities: NodeCommunities?
    private let lock = NSLock()

    init() {}

    var current: NodeCommunities? { lock.withLock { communities } }

    func set(_ communities: NodeCommunities) { lock.withLock { self.communities = communities } }

    /// The transport's outbound hook: requests of a community leave signed (``NodeCommunities/prepare(_:to:)``).
    var outboundHook: SIPOutboundRequestHook {
        { [self] request, destination in
            guard let communities = current else { return request }
            return await communities.prepare(request, to: destination)
        }
    }
}

/// Runs the node's communities between the default overlay and the endpoint: on graceful shutdown their rings
/// leave (handing records over) while the transport still carries the goodbyes.
struct CommunityService: Service {
    let slot: NodeCommunitySlot

    func run() async throws {
        try? await gracefulShutdown()
        await slot.current?.close()
    }
}
