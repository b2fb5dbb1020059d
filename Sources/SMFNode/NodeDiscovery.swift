import Discovery
import Logging
import Overlay
import OverlaySIP
import SIPTransport

/// How a node finds peers on its LAN without `--bootstrap` (docs/overlay.md "Local discovery"): SIP OPTIONS to an
/// IPv4 multicast group, answered by every node in a ring.
public struct NodeDiscoverySettings: Sendable, Hashable {
    /// Whether the node queries (when it has no bootstrap peer, and while it is alone in its ring) and answers
    /// others' queries. On by default.
    public var enabled = true
    /// The IPv4 multicast group (default 239.255.255.75, organisation-local scope, RFC 2365).
    public var group = "239.255.255.75"
    /// The UDP port queries go to (default 5083).
    public var port = 5083
    /// The IPv4 address of the interface to query and answer on. Nil: the interface of the node's overlay
    /// address, or the kernel's choice (the default route's) when that is 0.0.0.0 or not IPv4; a node whose
    /// overlay address is a loopback address then does not discover at all, since no LAN peer could reach it
    /// (give 127.0.0.1 explicitly to discover nodes on the same host).
    public var interface: String?
    /// How long one query collects answers.
    public var queryTimeout: Duration = .seconds(1)

    public init() {}

    /// Checks the group, port and interface.
    /// - Throws: ``SMFNodeError`` naming the option and the value.
    public func validate() throws(SMFNodeError) {
        guard let octets = Self.ipv4Octets(group), (224...239).contains(octets[0]) else {
            throw SMFNodeError(problem: "--discovery-group '\(group)' is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)")
        }
        guard (1...65535).contains(port) else {
            throw SMFNodeError(problem: "--discovery-port must be between 1 and 65535, not \(port)")
        }
        if let interface, Self.ipv4Octets(interface) == nil {
            throw SMFNodeError(problem: "--discovery-interface '\(interface)' is not an IPv4 address such as 192.168.1.20 or 127.0.0.1")
        }
    }

    /// The discovery configuration for a node reached at `overlayAddress`, or nil when discovery is off (disabled,
    /// or a loopback node with no explicit interface).
    func configuration(for overlayAddress: OverlayAddress) -> LocalDiscoveryConfiguration? {
        guard enabled else { return nil }
        var configuration = LocalDiscoveryConfiguration()
        configuration.group = group
        configuration.port = port
        if let interface {
            configuration.interface = interface
        } else {
            let host = (try? OverlaySIPCarriage.destination(of: overlayAddress))?.host ?? ""
            if host.hasPrefix("127.") || host == "::1" || host == "localhost" { return nil }
            configuration.interface = Self.ipv4Octets(host) == nil ? "0.0.0.0" : host
        }
        return configuration
    }

    /// The four numbers of a dotted-quad IPv4 address, or nil.
    static func ipv4Octets(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let octets = parts.compactMap { part in part.count <= 3 && part.allSatisfy(\.isASCII) ? Int(part) : nil }
        guard parts.count == 4, octets.count == 4, octets.allSatisfy({ (0...255).contains($0) }) else { return nil }
        return octets
    }
}

/// A node's local discovery: queries the LAN for peers and answers others' queries with the node's overlay address
/// while it is in a ring (``LocalDiscoveryResponder``).
actor NodeDiscovery {
    let configuration: LocalDiscoveryConfiguration
    private let timeout: Duration
    private let responder: LocalDiscoveryResponder
    private let logger: Logger

    init(configuration: LocalDiscoveryConfiguration, timeout: Duration, logger: Logger) {
        self.configuration = configuration
        self.timeout = timeout
        self.logger = logger
        responder = LocalDiscoveryResponder(configuration: configuration, logger: logger)
    }

    /// Answers queries until cancelled; a socket that cannot be opened is logged, and the node runs on without.
    func runResponder() async {
        do {
            try await responder.run()
        } catch {
            logger.warning(
                "cannot answer local discovery queries", metadata: ["discovery.group": "\(configuration.group):\(configuration.port)", "smf.error": "\(error)"])
        }
    }

    /// Answers queries with `me` from now on.
    func announce(_ me: OverlayPeer) async {
        await responder.announce(LocalAnnouncement(contact: Self.contact(of: me.address), nodeID: me.id.description))
    }

    /// Stops answering.
    func withdraw() async {
        await responder.withdraw()
    }

    /// Multicasts one query and returns the peers that answered (never `me`), in answer order. A query that cannot
    /// be sent is logged and finds nobody.
    func peers(excluding me: NodeID) async -> [(address: OverlayAddress, id: NodeID?)] {
        let found: [DiscoveredPeer]
        do {
            found = try await LocalDiscovery.discover(configuration, timeout: timeout, excludingNodeID: me.description)
        } catch {
            logger.warning("cannot query the LAN for overlay peers", metadata: ["smf.error": "\(error)"])
            return []
        }
        return found.compactMap { peer in
            guard let address = Self.overlayAddress(ofContact: peer.contact) else { return nil }
            return (address, peer.nodeID.flatMap { NodeID(hex: $0) })
        }
    }

    /// The SIP URI announced for an overlay address: `sip:HOST:PORT`, with `;transport=tcp` for a TCP address.
    static func contact(of address: OverlayAddress) -> String {
        guard let destination = try? OverlaySIPCarriage.destination(of: address) else { return address.value }
        let host = destination.host.contains(":") ? "[\(destination.host)]" : destination.host
        return "sip:\(host):\(destination.port)" + (destination.transport == .tcp ? ";transport=tcp" : "")
    }

    /// The overlay address (`HOST:PORT` or `tcp:HOST:PORT`, as nodes name themselves) of an announced contact.
    static func overlayAddress(ofContact contact: String) -> OverlayAddress? {
        guard let destination = try? OverlaySIPCarriage.destination(of: OverlayAddress(contact)) else { return nil }
        return NodeOverlay.overlayAddress(of: destination)
    }
}
