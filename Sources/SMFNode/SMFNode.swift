public import ControlChannel
import Foundation
public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
public import UnixSignals
public import SIPTransport

/// One running `smf` node: its data directory, SIP transport and UA core, wired into a `ServiceGroup`.
///
/// Services start in dependency order (storage, when it lands → transport → …) and shut down in reverse.
/// Call ``start()`` to create the data directory and bind the listeners, then ``run()``;
/// ``shutdown()`` (or a configured signal) ends ``run()`` gracefully.
public final class SMFNode: Sendable {
    public let configuration: NodeConfiguration
    public let transport: SIPTransport
    public let userAgent: SIPUserAgentCore
    /// The commands `smf` can send this node through `<data>/control.sock`; modules register theirs here.
    public let control: ControlCommandRegistry
    let controlServer: ControlServer
    let startedAt: ContinuousClock.Instant
    private let logger: Logger
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
        self.transport = SIPTransport(configuration: transportConfiguration, handler: userAgent, eventLoopGroup: eventLoopGroup, logger: logger)
        self.startedAt = ContinuousClock.now
        self.control = ControlCommandRegistry()
        self.controlServer = ControlServer(dataDirectory: configuration.dataDirectory, registry: control, eventLoopGroup: eventLoopGroup, logger: logger)
        self.group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: transport),
                    .init(service: ControlService(server: controlServer)),
                    .init(service: ReadinessService(transport: transport, onReady: onReady)),
                ],
                gracefulShutdownSignals: gracefulShutdownSignals,
                logger: logger
            )
        )
        do {
            try registerNodeCommands()
        } catch {
            logger.error("cannot register the node's control commands", metadata: ["smf.error": "\(error)"])
        }
    }

    /// Creates the data directory if missing, opens the control socket and binds the SIP listeners; returns the
    /// bound addresses.
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
        do {
            return try await transport.bind()
        } catch {
            await controlServer.close()
            throw SMFNodeError(problem: "cannot open SIP listeners \(configuration.listeners.map(\.description).joined(separator: " ")): \(error)")
        }
    }

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

/// A node could not start, with the reason.
public struct SMFNodeError: Error, CustomStringConvertible, Sendable {
    public var problem: String
    public var description: String { problem }
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
