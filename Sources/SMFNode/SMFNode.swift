public import ControlChannel
import Foundation
public import Logging
import NIOCore
import NIOPosix
import Overlay
import OverlaySIP
import Presence
import ServiceLifecycle
public import SIPEndpoint
import SIPSyntax
import Storage
public import UnixSignals
public import SIPTransport

/// One running `smf` node: its data directory and database, control channel, SIP transport and UA core, and the
/// SIP endpoint serving `presence` and the M2M packages, wired into a `ServiceGroup`.
///
/// Services start in dependency order (storage → control → transport → overlay → communities → endpoint) and shut down
/// in reverse, so the endpoint stops before the transport closes. Call ``start()`` to open the database and control socket, bind
/// the listeners and start the endpoint, then ``run()``; ``shutdown()`` (or a configured signal) ends ``run()``
/// gracefully.
public final class SMFNode: Sendable {
    public let configuration: NodeConfiguration
    public let transport: SIPTransport
    public let userAgent: SIPUserAgentCore
    /// The commands `smf` can send this node through `<data>/control.sock`; modules register theirs here.
    public let control: ControlCommandRegistry
    let controlServer: ControlServer
    let startedAt: ContinuousClock.Instant
    let runtimeSlot: NodeRuntimeSlot
    let listenAddresses: NodeTransportAddresses
    /// The node's communities once started (issue 5, NodeCommunity.swift).
    let communitySlot: NodeCommunitySlot
    let logger: Logger
    private let group: ServiceGroup

    /// - Parameters:
    ///   - gracefulShutdownSignals: Signals that end ``run()`` cleanly (the CLI passes SIGTERM and SIGINT).
    ///   - onReady: Called once from ``run()`` with the bound addresses, after signal handlers are installed.
    public init(
        configuration: NodeConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        gracefulShutdownSignals: [UnixSignal] = [],
        logger: Logger,
        onReady: (@Sendable ([SIPListenAddress]) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        var uaConfiguration = SIPUserAgentCore.Configuration()
        uaConfiguration.serverName = SMFVersion.productToken
        let userAgent = SIPUserAgentCore(configuration: uaConfiguration)
        self.userAgent = userAgent
        var transportConfiguration = SIPTransportConfiguration()
        transportConfiguration.listeners = configuration.listeners
        transportConfiguration.timers = configuration.timers
        transportConfiguration.userAgent = SMFVersion.productToken
        let runtimeSlot = NodeRuntimeSlot()
        let listenAddresses = NodeTransportAddresses()
        self.runtimeSlot = runtimeSlot
        self.listenAddresses = listenAddresses
        // Communities: requests of a community leave signed (the hook) and arrive verified (the router's gate).
        let communitySlot = NodeCommunitySlot()
        self.communitySlot = communitySlot
        transportConfiguration.outboundRequestHook = communitySlot.outboundHook
        transportConfiguration.injectedReceiveLoss = configuration.injectedUDPLoss
        let router = NodeRequestRouter(
            core: userAgent, slot: runtimeSlot, transport: listenAddresses, user: configuration.user, communities: communitySlot, logger: logger)
        self.transport = SIPTransport(configuration: transportConfiguration, handler: router, eventLoopGroup: eventLoopGroup, logger: logger)
        self.startedAt = ContinuousClock.now
        self.control = ControlCommandRegistry()
        self.controlServer = ControlServer(dataDirectory: configuration.dataDirectory, registry: control, eventLoopGroup: eventLoopGroup, logger: logger)
        self.group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: StorageService()),
                    .init(service: ControlService(server: controlServer)),
                    .init(service: transport),
                    .init(service: OverlayService(slot: runtimeSlot)),
                    .init(service: CommunityService(slot: communitySlot)),
                    .init(service: EndpointService(slot: runtimeSlot, logger: logger)),
                    .init(service: ReadinessService(transport: transport, onReady: onReady)),
                ],
                gracefulShutdownSignals: gracefulShutdownSignals,
                logger: logger
            )
        )
        do {
            try registerNodeCommands()
            try registerEventCommands()
            try registerOverlayCommands()
            try registerEnergyCommands()
            try registerCommunityCommands()
            try registerServiceCommands()
            try registerSurveillanceCommands()
        } catch {
            logger.error("cannot register the node's control commands", metadata: ["smf.error": "\(error)"])
        }
    }

    /// Creates the data directory if missing, opens the control socket, the database (`smf.sqlite`) and the SIP
    /// listeners, and starts the endpoint (restoring the subscriptions it notifies); returns the bound addresses.
    ///
    /// The control socket comes first, so a second node on the same data directory fails with "another smf node
    /// is running with data dir X" before it touches any port.
    @discardableResult
    public func start() async throws -> [SIPListenAddress] {
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw SMFNodeError(problem: "cannot create data directory \(configuration.dataDirectory): \(error.localizedDescription)")
        }
        do {
            try await controlServer.bind()
        } catch {
            throw SMFNodeError(problem: error.message)
        }
        let database: SMFDatabase
        do {
            database = try SMFDatabase(directory: configuration.dataDirectory, logger: logger)
        } catch {
            await controlServer.close()
            throw SMFNodeError(problem: "cannot open the node database: \(error)")
        }
        let addresses: [SIPListenAddress]
        do {
            addresses = try await transport.bind()
        } catch {
            await controlServer.close()
            throw SMFNodeError(problem: "cannot open SIP listeners \(configuration.listeners.map(\.description).joined(separator: " ")): \(error)")
        }
        listenAddresses.set(addresses)
        do {
            try await startEndpoint(database: database, addresses: addresses)
        } catch {
            await transport.close()
            await controlServer.close()
            throw error
        }
        return addresses
    }

    /// The node's address of record: `sip:USER@HOST:PORT` of its first UDP listener (else its first listener).
    static func addressOfRecord(user: String, addresses: [SIPListenAddress]) -> SIPURI? {
        guard let address = addresses.first(where: { $0.transport == .udp }) ?? addresses.first else { return nil }
        var parameters = SIPParameters()
        if address.transport == .tcp { parameters.set("transport", "tcp") }
        return SIPURI(user: user, host: address.hostForURI, port: address.port, parameters: parameters)
    }

    private func startEndpoint(database: SMFDatabase, addresses: [SIPListenAddress]) async throws {
        guard let aor = Self.addressOfRecord(user: configuration.user, addresses: addresses) else {
            throw SMFNodeError(problem: "the node has no SIP listener to name its address of record")
        }
        let overlay = try await startOverlay(database: database, addresses: addresses, aor: aor)
        let inbox = MessageInbox(database: database, logger: logger)
        var endpointConfiguration = SIPEndpointConfiguration(localURI: aor)
        endpointConfiguration.onMessage = inbox.hook
        let endpoint = SIPEndpoint(
            configuration: endpointConfiguration, transport: transport, userAgent: userAgent,
            store: database.endpointStore, packages: [PresenceEventPackage()] + M2MEventPackages.all + [NodeMembershipPackage.package],
            logger: logger)
        do {
            try await endpoint.start()
        } catch {
            throw SMFNodeError(problem: "cannot start the SIP endpoint: \(error)")
        }
        let registrarAoR = configuration.registrar.map { RegistrationClient.addressOfRecord(user: configuration.user, registrar: $0) }
        let registration = configuration.registrar.map { registrar in
            RegistrationClient(
                registrar: registrar, addressOfRecord: RegistrationClient.addressOfRecord(user: configuration.user, registrar: registrar),
                contact: aor, expires: configuration.registrationExpires, transport: transport, logger: logger)
        }
        let presence = NodePresence(endpoint: endpoint, database: database, aor: aor, publicationTarget: registrarAoR, logger: logger)
        await presence.restore()
        let services = await startServices(database: database, endpoint: endpoint, overlay: overlay, aor: aor)
        let supporter = NodeSupporter(
            endpoint: endpoint, transport: transport, services: services, store: SQLiteSupporterStore(database: database), aor: aor,
            autoAnswer: configuration.surveillance.alarmAutoAnswer, logger: logger)
        await supporter.start()
        let runtime = NodeRuntime(
            database: database, endpoint: endpoint, presence: presence, inbox: inbox, registration: registration, overlay: overlay,
            services: services, supporter: supporter)
        await startCommunities(database: database, overlay: overlay, endpoint: endpoint, aor: aor)
        runtimeSlot.set(runtime)
    }

    /// Loads (or creates) `<data>/identity.key` and puts an ``OverlayNode`` on the node's transport: overlay
    /// REGISTERs (with `Overlay-Message`) reach it, every other request still reaches the endpoint.
    private func startOverlay(database: SMFDatabase, addresses: [SIPListenAddress], aor: SIPURI) async throws -> NodeOverlay {
        let identity: NodeIdentity
        do {
            identity = try NodeIdentity.loadOrCreate(in: URL(fileURLWithPath: configuration.dataDirectory))
        } catch {
            throw SMFNodeError(problem: "cannot load the node identity: \(error)")
        }
        guard let address = configuration.overlayAddress ?? NodeOverlay.overlayAddress(of: addresses) else {
            throw SMFNodeError(problem: "the node has no SIP listener for the overlay")
        }
        // Record expiries travel between nodes, so overlay time is Unix time, read once here by the driver.
        let epoch = OverlayInstant(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        var overlayLogger = logger
        overlayLogger[metadataKey: "overlay.node"] = "\(identity.nodeID.shortDescription)"
        let node = OverlayNode(
            identity: identity, address: address, transport: transport, configuration: configuration.overlay, epoch: epoch,
            logger: overlayLogger)
        let slot = runtimeSlot
        await node.attach(to: userAgent) { incoming in
            guard let overlay = slot.current?.overlay else { return .answering(incoming.request, statusCode: 503) }
            return await overlay.register(phone: incoming)
        }
        let discovery = configuration.discovery.configuration(for: address).map { discoveryConfiguration in
            NodeDiscovery(configuration: discoveryConfiguration, timeout: configuration.discovery.queryTimeout, logger: overlayLogger)
        }
        if discovery == nil, configuration.discovery.enabled {
            logger.info(
                "local discovery is off: the overlay address is a loopback address (give a discovery interface, e.g. 127.0.0.1, to discover nodes on this host)",
                metadata: ["overlay.address": "\(address)"])
        }
        return NodeOverlay(
            node: node, database: database, bootstrap: configuration.overlayBootstrap, discovery: discovery,
            addressOfRecord: aor.description, contact: aor.description, registrationLifetime: configuration.overlayRegistrationLifetime,
            logger: overlayLogger)
    }

    /// The node's SIP endpoint, once ``start()`` succeeded.
    public var endpoint: SIPEndpoint? { runtimeSlot.current?.endpoint }

    /// Runs every service until graceful shutdown; returns when all have stopped.
    public func run() async throws {
        try await group.run()
    }

    /// Starts a graceful shutdown of ``run()``.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// The SIP URI this node answers as on its first listener of `transport`, e.g. `sip:smf@127.0.0.1:5060`.
    public func contactURI(transport protocolName: SIPTransportProtocol) async -> String? {
        guard let address = await transport.boundAddresses.first(where: { $0.transport == protocolName }) else { return nil }
        let parameter = protocolName == .tcp ? ";transport=tcp" : ""
        return "sip:\(configuration.user)@\(address.hostForURI):\(address.port)\(parameter)"
    }
}

extension SMFNode {
    /// The membership the service runtime asks of this node: its sub-communities (requests verified by its gate), and
    /// the open `--scope`s of communities it is not a member of.
    public var serviceMembership: NodeServiceMembership {
        NodeServiceMembership(slot: communitySlot, openScopes: configuration.services.scopes)
    }

    /// Restores the node's communities from its database and starts their rings (NodeCommunity.swift).
    func startCommunities(database: SMFDatabase, overlay: NodeOverlay, endpoint: SIPEndpoint, aor: SIPURI) async {
        let environment = NodeCommunities.Environment(
            dataDirectory: configuration.dataDirectory, addressOfRecord: aor, overlayAddress: overlay.node.me.address,
            overlay: configuration.overlay, recordLifetime: configuration.overlayRegistrationLifetime,
            offeredServices: configuration.services.offeredTypes)
        let communities = NodeCommunities(
            identity: overlay.node.identity, store: SQLiteMembershipStore(database: database), transport: transport, endpoint: endpoint,
            environment: environment, logger: logger,
            clock: { OverlayInstant(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) })
        communitySlot.set(communities)
        await communities.start()
    }
}

/// A node could not start, with the reason.
public struct SMFNodeError: Error, CustomStringConvertible, Sendable {
    public var problem: String
    public var description: String { problem }
}

/// Holds the database's place in the start order (first up, last down); the database itself is opened by
/// ``SMFNode/start()`` and closes when the node is released.
struct StorageService: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}

/// Keeps the registration (if any) until graceful shutdown, then removes it, closes the inbox and shuts the
/// endpoint down — before the transport closes, which is listed before it.
struct EndpointService: Service {
    let slot: NodeRuntimeSlot
    let logger: Logger

    func run() async throws {
        guard let runtime = slot.current else {
            try? await gracefulShutdown()
            return
        }
        if let registration = runtime.registration {
            await cancelWhenGracefulShutdown { await registration.run() }
            await registration.unregister()
        } else {
            try? await gracefulShutdown()
        }
        await runtime.supporter.stop()
        await runtime.stopServices()
        await runtime.inbox.close()
        await runtime.endpoint.shutdown()
    }
}

/// Reports readiness once the transport is bound; it starts after the ServiceGroup installed its signal
/// handlers, so a signal arriving right after the ready line is always handled gracefully.
struct ReadinessService: Service {
    let transport: SIPTransport
    let onReady: (@Sendable ([SIPListenAddress]) -> Void)?

    func run() async throws {
        let addresses = try await transport.bind()
        onReady?(addresses)
        try? await gracefulShutdown()
    }
}
