// Local discovery of bootstrap peers on the LAN: SIP OPTIONS over IP multicast. See docs/overlay.md.
public import NIOCore
import NIOPosix
import SIPSyntax

/// Where local discovery queries go: an IPv4 multicast group, a port, and the interface used.
///
/// A query is a SIP OPTIONS request (RFC 3261 §11) sent to the group, as RFC 3261 §18.1.1 allows
/// for multicast; every node in a ring answers it by unicast with its SIP contact.
public struct LocalDiscoveryConfiguration: Hashable, Sendable {
    /// The IPv4 multicast group. Default 239.255.255.75 (organisation-local scope, RFC 2365), so
    /// queries stay on the site; `sip.mcast.net` (224.0.1.75, RFC 3261 §10.2.6) works as well.
    public var group = "239.255.255.75"
    /// The UDP port responders listen on. Default 5083 (not 5060, which the node's SIP listener uses).
    public var port = 5083
    /// The IPv4 address of the interface to query and listen on; 0.0.0.0 lets the kernel choose
    /// (the interface of the default route). Tests use 127.0.0.1.
    public var interface = "0.0.0.0"
    /// IP time-to-live of the queries (RFC 3261 §18.1.1 suggests 1: the local subnet). Default 1.
    public var ttl: UInt8 = 1
    /// Only responders of this community answer; nil asks every community.
    public var community: String?

    /// The default configuration.
    public init() {}
}

/// A peer that answered a discovery query.
public struct DiscoveredPeer: Hashable, Sendable, CustomStringConvertible {
    /// The SIP URI to bootstrap through, e.g. `sip:127.0.0.1:5070`.
    public var contact: String
    /// The answering node's Node-ID (hex), when it gave one.
    public var nodeID: String?
    /// The community it belongs to, when it gave one.
    public var community: String?

    /// Creates a discovered peer.
    public init(contact: String, nodeID: String? = nil, community: String? = nil) {
        self.contact = contact
        self.nodeID = nodeID
        self.community = community
    }

    public var description: String { nodeID.map { "\(contact) (\($0))" } ?? contact }
}

/// What a responder answers with while its node is in a ring.
public struct LocalAnnouncement: Hashable, Sendable {
    /// The SIP contact other nodes bootstrap through.
    public var contact: String
    /// This node's Node-ID (hex).
    public var nodeID: String?
    /// This node's community name.
    public var community: String?

    /// Creates an announcement.
    public init(contact: String, nodeID: String? = nil, community: String? = nil) {
        self.contact = contact
        self.nodeID = nodeID
        self.community = community
    }
}

/// Why discovery could not run.
public struct LocalDiscoveryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Hashable, Sendable {
        /// The group is not an IPv4 multicast address (224.0.0.0/4).
        case notMulticast
        /// The interface is not an IPv4 address of this host.
        case unknownInterface
        /// A socket could not be bound or configured.
        case socket
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence saying what is wrong.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Local discovery of bootstrap peers: a querier multicasts an OPTIONS request and collects the
/// unicast 200 answers of the ``LocalDiscoveryResponder``s of nodes that are in a ring.
public enum LocalDiscovery {
    /// Header naming the community a query is for (`*` for any) and, in answers, the answerer's.
    public static let discoveryHeader = "Overlay-Discovery"
    /// Header carrying the answering node's Node-ID.
    public static let nodeHeader = "Overlay-Node"

    /// Multicasts a discovery query and returns the peers that answered within `timeout`, in the
    /// order they answered, without duplicates. The query is sent three times (at 0, ⅓ and ⅔ of
    /// the timeout), since multicast UDP may be lost (RFC 3261 §17.1.2.2 retransmits likewise).
    /// - Parameters:
    ///   - configuration: group, port, interface, TTL and community.
    ///   - timeout: how long to collect answers.
    ///   - excludingNodeID: a Node-ID (hex) whose answers are ignored (the querier's own node).
    ///   - eventLoopGroup: where the socket runs.
    public static func discover(
        _ configuration: LocalDiscoveryConfiguration = LocalDiscoveryConfiguration(),
        timeout: Duration = .seconds(1),
        excludingNodeID: String? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> [DiscoveredPeer] {
        let group = try groupAddress(configuration)
        let interface = try interfaceAddress(configuration)
        let callID = "discovery-\(UInt64.random(in: 1...UInt64.max))"
        let promise = eventLoopGroup.any().makePromise(of: [DiscoveredPeer].self)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: eventLoopGroup)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let collector = DiscoveryCollector(callID: callID, excluding: excludingNodeID, community: configuration.community)
                        try channel.pipeline.syncOperations.addHandler(collector)
                    }
                }
                .bind(host: configuration.interface, port: 0)
                .flatMap { channel in
                    configureSender(channel, interface: interface, ttl: configuration.ttl).map { channel }
                }
                .get()
        } catch {
            throw LocalDiscoveryError(.socket, "cannot open a discovery socket on \(configuration.interface): \(error)")
        }
        guard let local = channel.localAddress, let localPort = local.port else {
            channel.close(promise: nil)
            throw LocalDiscoveryError(.socket, "the discovery socket has no local address")
        }
        let viaHost = configuration.interface == "0.0.0.0" ? "0.0.0.0" : configuration.interface
        let query = makeQuery(configuration, callID: callID, viaHost: viaHost, viaPort: localPort)
        let milliseconds = max(3, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let eventLoop = channel.eventLoop
        eventLoop.execute {
            for attempt in 0..<3 {
                eventLoop.scheduleTask(in: .milliseconds(milliseconds * Int64(attempt) / 3)) {
                    var buffer = channel.allocator.buffer(capacity: 512)
                    query.write(into: &buffer)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: group, data: buffer), promise: nil)
                }
            }
            eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
                let found = (try? channel.pipeline.syncOperations.handler(type: DiscoveryCollector.self).peers) ?? []
                channel.close(promise: nil)
                promise.succeed(found)
            }
        }
        return try await promise.futureResult.get()
    }

    /// The OPTIONS query (RFC 3261 §11, multicast per §18.1.1: Max-Forwards 1, maddr and ttl in Via).
    static func makeQuery(_ configuration: LocalDiscoveryConfiguration, callID: String, viaHost: String, viaPort: Int) -> SIPRequest {
        let branch = "z9hG4bK\(UInt64.random(in: 1...UInt64.max))"
        let tag = "\(UInt32.random(in: 1...UInt32.max))"
        let target = "sip:overlay-discovery@\(configuration.group):\(configuration.port)"
        let headers = SIPHeaders([
            ("Via", "SIP/2.0/UDP \(viaHost):\(viaPort);branch=\(branch);rport;maddr=\(configuration.group);ttl=\(configuration.ttl)"),
            ("Max-Forwards", "1"),
            ("From", "<sip:overlay-discovery@\(viaHost)>;tag=\(tag)"),
            ("To", "<\(target)>"),
            ("Call-ID", callID),
            ("CSeq", "1 OPTIONS"),
            (discoveryHeader, configuration.community ?? "*"),
            ("Accept", "application/sdp"),
            ("Content-Length", "0"),
        ])
        let uri = SIPURI(target) ?? SIPURI(scheme: "sip", user: "overlay-discovery", host: configuration.group, port: configuration.port)
        return SIPRequest(method: .options, uri: uri, headers: headers)
    }

    /// The answer of a node in a ring to a query (RFC 3261 §11.2: a 200 with the node's Contact).
    static func makeAnswer(to query: SIPRequest, announcement: LocalAnnouncement) -> SIPResponse {
        var headers = SIPHeaders()
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            for value in query.headers.values(name) { headers.add(name: name, value: value) }
        }
        let to = query.headers["To"] ?? "<sip:overlay-discovery@\(announcement.contact)>"
        headers.add(name: "To", value: to.contains(";tag=") ? to : "\(to);tag=\(UInt32.random(in: 1...UInt32.max))")
        headers.add(name: "Contact", value: "<\(announcement.contact)>")
        if let nodeID = announcement.nodeID { headers.add(name: nodeHeader, value: nodeID) }
        headers.add(name: discoveryHeader, value: announcement.community ?? "*")
        headers.add(name: "Content-Length", value: "0")
        return SIPResponse(statusCode: 200, headers: headers)
    }

    /// Whether a responder with `announcement` answers a query for `community` (nil or `*`: any).
    static func answers(_ announcement: LocalAnnouncement, community: String?) -> Bool {
        guard let community, community != "*" else { return true }
        return announcement.community == community
    }

    static func groupAddress(_ configuration: LocalDiscoveryConfiguration) throws -> SocketAddress {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: configuration.group, port: configuration.port)
        } catch {
            throw LocalDiscoveryError(.notMulticast, "discovery group '\(configuration.group)' is not an IPv4 address")
        }
        guard case .v4 = address, address.isMulticast, (1...65535).contains(configuration.port) else {
            throw LocalDiscoveryError(
                .notMulticast,
                "discovery group \(configuration.group):\(configuration.port) is not an IPv4 multicast address (224.0.0.0/4) with a port"
            )
        }
        return address
    }

    /// The interface's IPv4 address, or nil for "any".
    static func interfaceAddress(_ configuration: LocalDiscoveryConfiguration) throws -> SocketAddress? {
        guard configuration.interface != "0.0.0.0" else { return nil }
        guard let address = try? SocketAddress(ipAddress: configuration.interface, port: 0), case .v4 = address else {
            throw LocalDiscoveryError(.unknownInterface, "discovery interface '\(configuration.interface)' is not an IPv4 address")
        }
        return address
    }

    /// Sets the outgoing interface, TTL and loopback of multicast sends (loopback on, so nodes on
    /// one host, e.g. 127.0.0.1 in tests, hear each other).
    static func configureSender(_ channel: any Channel, interface: SocketAddress?, ttl: UInt8) -> EventLoopFuture<Void> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(LocalDiscoveryError(.socket, "the datagram channel offers no socket options"))
        }
        var future = provider.setIPMulticastLoop(1).flatMap { provider.setIPMulticastTTL(ttl) }
        if let host = interface?.ipAddress {
            guard let networkOrder = networkOrder(host) else {
                return channel.eventLoop.makeFailedFuture(LocalDiscoveryError(.unknownInterface, "'\(host)' is not an IPv4 address"))
            }
            // in_addr is the address in network byte order; NIO declares the type in a C module
            // this target does not import, so it is built from its 4 bytes.
            let address = unsafeBitCast(networkOrder, to: in_addr.self)
            future = future.flatMap { provider.setIPMulticastIF(address) }
        }
        return future
    }

    /// Joins the multicast group on the interface. NIO's `joinGroup(_:device:)` refuses a device
    /// without the MULTICAST flag, which `lo` lacks, although Linux delivers multicast on it; so
    /// on such a device the membership (`IP_ADD_MEMBERSHIP`, an `ip_mreq`) is set directly.
    static func join(_ group: SocketAddress, on channel: any Channel, interface: SocketAddress?, device: NIONetworkDevice?) -> EventLoopFuture<Void> {
        guard let multicast = channel as? any MulticastChannel, let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(LocalDiscoveryError(.socket, "the datagram channel cannot join multicast groups"))
        }
        guard let device, !device.multicastSupported, let groupHost = group.ipAddress, let interfaceHost = interface?.ipAddress,
            let groupOrder = networkOrder(groupHost), let interfaceOrder = networkOrder(interfaceHost)
        else {
            return multicast.joinGroup(group, device: device)
        }
        // struct ip_mreq { struct in_addr imr_multiaddr; struct in_addr imr_interface; }
        let request = (groupOrder, interfaceOrder)
        return provider.unsafeSetSocketOption(level: .ip, name: .ip_add_membership, value: request)
    }

    /// An IPv4 address as an `in_addr` value: its 4 bytes in network order.
    static func networkOrder(_ host: String) -> UInt32? {
        let octets = host.split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4 else { return nil }
        return UInt32(bigEndian: octets.reduce(0) { $0 << 8 | UInt32($1) })
    }

    /// The network device whose IPv4 address is `interface` (nil: any).
    static func device(for interface: SocketAddress?) throws -> NIONetworkDevice? {
        guard let interface else { return nil }
        let devices = (try? System.enumerateDevices()) ?? []
        guard let device = devices.first(where: { $0.address.map { sameHost($0, interface) } ?? false }) else {
            throw LocalDiscoveryError(.unknownInterface, "no network interface of this host has the address \(interface.ipAddress ?? "?")")
        }
        return device
    }

    static func sameHost(_ lhs: SocketAddress, _ rhs: SocketAddress) -> Bool {
        guard case .v4 = lhs, case .v4 = rhs else { return false }
        return lhs.ipAddress == rhs.ipAddress
    }
}

/// Collects the 200 answers to one query (runs on the socket's event loop).
final class DiscoveryCollector: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let callID: String
    let excluding: String?
    let community: String?
    private(set) var peers: [DiscoveredPeer] = []
    private let parser = SIPParser()

    init(callID: String, excluding: String?, community: String?) {
        self.callID = callID
        self.excluding = excluding
        self.community = community
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        // Anything that is not a well-formed 200 to our query is ignored: the network may carry
        // other traffic, stale answers or garbage.
        guard case .response(let response)? = try? parser.parse(datagram: envelope.data),
            response.statusCode == 200,
            response.headers["Call-ID"] == callID
        else { return }
        let nodeID = response.headers[LocalDiscovery.nodeHeader]
        if let excluding, let nodeID, nodeID.lowercased() == excluding.lowercased() { return }
        let theirCommunity = response.headers[LocalDiscovery.discoveryHeader].flatMap { $0 == "*" ? nil : $0 }
        if let community, community != "*", theirCommunity != community { return }
        for value in response.headers.values("Contact") {
            guard let contact = Self.uri(inContact: value), !peers.contains(where: { $0.contact == contact }) else { continue }
            peers.append(DiscoveredPeer(contact: contact, nodeID: nodeID, community: theirCommunity))
        }
    }

    /// The URI inside a Contact value such as `<sip:a@b:5060>;expires=60` (RFC 3261 §20.10).
    static func uri(inContact value: String) -> String? {
        let trimmed = value.trimmingSpaces
        if let open = trimmed.firstIndex(of: "<"), let close = trimmed[open...].firstIndex(of: ">") {
            let inner = String(trimmed[trimmed.index(after: open)..<close])
            return SIPURI(inner)?.isSIP == true ? inner : nil
        }
        let bare = String(trimmed.prefix { $0 != ";" })
        return SIPURI(bare)?.isSIP == true ? bare : nil
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
