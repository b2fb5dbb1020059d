import Foundation
import Logging
import Overlay
import OverlaySIP
import ServicePlatform
import SIPSyntax
import SIPTransport

/// Sits between the transport and the node's UAS core: a MESSAGE or SUBSCRIBE whose Request-URI names an address
/// of record other than the node's own (a community domain such as `sip:alice@community.example`, or another user at
/// this node's address, e.g. a phone that registered here) is resolved through the overlay's user registrations and
/// answered with a `302` naming the registered contacts (RFC 3261 §8.3.1, §21.3.3); every other request goes to the
/// core unchanged.
///
/// A redirect rather than proxying keeps the node stateless for foreign requests; the UAC follows the Contact.
/// When the overlay knows no registration for the AoR (or the lookup fails), the request goes to the core as before
/// (the node answers as itself).
final class NodeRequestRouter: SIPRequestHandler {
    private let core: SIPUserAgentCore
    private let slot: NodeRuntimeSlot
    private let transport: NodeTransportAddresses
    private let user: String
    private let communities: NodeCommunitySlot
    private let logger: Logger

    init(
        core: SIPUserAgentCore, slot: NodeRuntimeSlot, transport: NodeTransportAddresses, user: String, communities: NodeCommunitySlot,
        logger: Logger
    ) {
        self.core = core
        self.user = user
        self.slot = slot
        self.transport = transport
        self.communities = communities
        self.logger = logger
    }

    func handle(_ incoming: SIPIncomingRequest) async -> SIPResponse? {
        var incoming = incoming
        // Communities (issue 5): requests of the node's communities are verified before anything else sees them
        // (NodeCommunity+Gate.swift); a refused one is answered 403 with the reason.
        if let communities = communities.current {
            switch await communities.screen(incoming) {
            case .answer(let response): return Self.tagged(response)
            case .ring(let ring, let request): return Self.tagged(await ring.answer(request))
            case .community(let screened): return await core.handle(screened)
            case .ordinary(let screened): incoming = screened
            }
        } else {
            incoming.request.headers.remove(CommunityAssertion.header)
        }
        let request = incoming.request
        // Deploy MESSAGEs and requests to service instances (`sip:<app>.<service>@…`) go to the service runtime.
        if let services = slot.current?.services, let response = await services.handle(incoming) { return Self.tagged(response) }
        guard request.method == .message || request.method == .subscribe, let overlay = slot.current?.overlay,
            let aor = Self.communityAoR(of: request.uri), !(request.uri.user == user && transport.isLocal(request.uri))
        else {
            return await core.handle(incoming)
        }
        let contacts: [String]
        do {
            contacts = try await overlay.node.lookup(aor: aor)
        } catch {
            logger.info("overlay lookup failed; the node answers itself", metadata: ["overlay.aor": "\(aor)", "smf.error": "\(error)"])
            return await core.handle(incoming)
        }
        let targets = contacts.compactMap(SIPURI.init).filter { !transport.isLocal($0) || $0.user != request.uri.user }
        guard !targets.isEmpty else { return await core.handle(incoming) }
        var response = SIPResponse.answering(request, statusCode: 302)
        for target in targets { response.headers.add(name: "Contact", value: "<\(target)>") }
        logger.debug("redirected through the overlay", metadata: ["overlay.aor": "\(aor)", "sip.contacts": "\(targets)"])
        return Self.tagged(response)
    }

    /// `sip:user@host[:port]` of a Request-URI with a user part (parameters dropped), or nil.
    static func communityAoR(of uri: SIPURI) -> String? {
        guard uri.isSIP, let user = uri.user, !user.isEmpty, !uri.host.isEmpty else { return nil }
        return SIPURI(scheme: uri.scheme, user: user, host: uri.host, port: uri.port).description
    }

    /// A final response answered here (not by the core) still needs a To tag and a Server header, as the core
    /// adds them (RFC 3261 §8.2.6.2, §20.35).
    static func tagged(_ response: SIPResponse) -> SIPResponse {
        var response = response
        if let toValue = response.headers["To"], response.headers.to?.tag == nil {
            response.headers.replaceOrAdd(name: "To", value: "\(toValue);tag=\(String(UInt64.random(in: 0...UInt64.max), radix: 16))")
        }
        if !response.headers.contains("Server") { response.headers.add(name: "Server", value: SMFVersion.productToken) }
        return response
    }
}

/// The node's bound listeners, known once the transport is bound; tells whether a URI points at this node.
final class NodeTransportAddresses: @unchecked Sendable {
    // Guarded by `lock`.
    private var addresses: [SIPListenAddress] = []
    private let lock = NSLock()

    func set(_ addresses: [SIPListenAddress]) { lock.withLock { self.addresses = addresses } }

    /// Whether `uri` names one of this node's listeners (port 5060 when absent).
    func isLocal(_ uri: SIPURI) -> Bool {
        let host = uri.hostWithoutBrackets.lowercased()
        let port = uri.port ?? 5060
        return lock.withLock { addresses.contains { $0.host.lowercased() == host && $0.port == port } }
    }
}

extension NodeOverlay {
    /// Answers a REGISTER from an ordinary phone (no `Overlay-Message`): its To AoR → its Contacts is stored as a user
    /// registration in the overlay, signed by this node, for the Expires asked (at most 1 h); `Expires: 0` stores a
    /// removal (RFC 3261 §10.3 steps 6–8, the registrar's bindings kept in the DHT as in SOSIMPLE).
    func register(phone incoming: SIPIncomingRequest) async -> SIPResponse {
        let request = incoming.request
        guard let to = request.headers.to, let aor = NodeRequestRouter.communityAoR(of: to.uri) else {
            return .answering(request, statusCode: 400, reasonPhrase: "To Is Not A SIP Address Of Record")
        }
        let contacts = request.headers.contacts
        if contacts.isEmpty && !request.headers.isContactWildcard {
            // A query (§10.2.3): answer with the current bindings.
            let known = (try? await node.lookup(aor: aor)) ?? []
            var response = SIPResponse.answering(request, statusCode: 200)
            for contact in known { response.headers.add(name: "Contact", value: "<\(contact)>") }
            return response
        }
        let requested = contacts.first?.expires ?? request.headers.expires ?? 3600
        let lifetime = max(0, min(requested, 3600))
        let sequence = await nextSequence()
        let record: ResourceRecord
        if lifetime == 0 || request.headers.isContactWildcard {
            record = .removal(of: .user, name: UserRegistration.resourceName(aor: aor), sequence: sequence, expiry: await node.now.advanced(by: .seconds(3600)), by: node.identity)
        } else {
            let registration = UserRegistration(aor: aor, contacts: contacts.map(\.uri.description))
            record = registration.record(sequence: sequence, expiry: await node.now.advanced(by: .seconds(lifetime)), by: node.identity)
        }
        do {
            try await node.put(record)
        } catch {
            return .answering(request, statusCode: 500, reasonPhrase: "Overlay Store Failed")
        }
        var response = SIPResponse.answering(request, statusCode: 200)
        if !record.isRemoval {
            for contact in contacts { response.headers.add(name: "Contact", value: "<\(contact.uri)>;expires=\(lifetime)") }
        }
        return response
    }
}
