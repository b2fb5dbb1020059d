public import Logging
public import NIOCore
import NIOPosix
import SIPSyntax

/// Answers local discovery queries (``LocalDiscovery/discover(_:timeout:excludingNodeID:eventLoopGroup:)``)
/// with this node's SIP contact while the node is in a ring.
///
/// Listens on the multicast group and port of its ``LocalDiscoveryConfiguration`` (with
/// `SO_REUSEADDR`, so several nodes on one host can listen at once) and answers each OPTIONS query
/// that carries `Overlay-Discovery` with a unicast `200 OK` whose Contact is the announced contact
/// (RFC 3261 §11.2). Answers nothing until ``announce(_:)``, and again after ``withdraw()``.
/// ``run()`` has the shape of a swift-service-lifecycle `Service`: it runs until cancelled.
public actor LocalDiscoveryResponder {
    /// The group, port and interface listened on.
    public nonisolated let configuration: LocalDiscoveryConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private var announcement: LocalAnnouncement?
    private var channel: (any Channel)?
    private var answerer: NIOLoopBound<DiscoveryAnswerer>?

    /// Creates a responder; it listens once ``start()`` or ``run()`` is called.
    /// - Parameters:
    ///   - configuration: the group, port and interface.
    ///   - announcement: what to answer with from the start (nil: stay silent until ``announce(_:)``).
    ///   - logger: where problems are logged.
    ///   - eventLoopGroup: where the socket runs.
    public init(
        configuration: LocalDiscoveryConfiguration = LocalDiscoveryConfiguration(),
        announcement: LocalAnnouncement? = nil,
        logger: Logger = Logger(label: "smf.discovery"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.announcement = announcement
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Answers queries with `announcement` from now on (call when the node has joined a ring).
    public func announce(_ announcement: LocalAnnouncement) {
        self.announcement = announcement
        push()
    }

    /// Stops answering (call when the node leaves its ring).
    public func withdraw() {
        announcement = nil
        push()
    }

    /// Binds the socket and joins the multicast group. Throws ``LocalDiscoveryError`` when the
    /// group or interface is wrong or the port cannot be bound.
    public func start() async throws {
        guard channel == nil else { return }
        let group = try LocalDiscovery.groupAddress(configuration)
        let interface = try LocalDiscovery.interfaceAddress(configuration)
        let device = try LocalDiscovery.device(for: interface)
        let initial = announcement
        let logger = logger
        let bound: (any Channel, NIOLoopBound<DiscoveryAnswerer>)
        do {
            bound = try await DatagramBootstrap(group: eventLoopGroup)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DiscoveryAnswerer(announcement: initial, logger: logger))
                    }
                }
                .bind(to: group)
                .flatMap { channel -> EventLoopFuture<any Channel> in
                    LocalDiscovery.join(group, on: channel, interface: interface, device: device).map { channel }
                }
                .flatMapThrowing { channel in
                    let answerer = try channel.pipeline.syncOperations.handler(type: DiscoveryAnswerer.self)
                    return (channel, NIOLoopBound(answerer, eventLoop: channel.eventLoop))
                }
                .get()
        } catch let error as LocalDiscoveryError {
            throw error
        } catch {
            throw LocalDiscoveryError(
                .socket,
                "cannot listen for discovery queries on \(configuration.group):\(configuration.port) via \(configuration.interface): \(error)"
            )
        }
        channel = bound.0
        answerer = bound.1
        // An announce() while binding has already updated `announcement`.
        push()
    }

    /// Closes the socket.
    public func stop() async {
        let channel = self.channel
        self.channel = nil
        answerer = nil
        try? await channel?.close()
    }

    /// Starts, then runs until the task is cancelled, then stops.
    public func run() async throws {
        try await start()
        guard let channel else { return }
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        await stop()
    }

    /// Hands the current announcement to the socket's handler.
    private func push() {
        guard let answerer else { return }
        let announcement = self.announcement
        answerer.eventLoop.execute { answerer.value.announcement = announcement }
    }
}

/// Answers discovery queries (runs on the socket's event loop).
final class DiscoveryAnswerer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    var announcement: LocalAnnouncement?
    private let logger: Logger
    private let parser = SIPParser()

    init(announcement: LocalAnnouncement?, logger: Logger) {
        self.announcement = announcement
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let announcement else { return }
        // Only our own queries are answered; other multicast SIP traffic and garbage are ignored.
        guard case .request(let query)? = try? parser.parse(datagram: envelope.data),
            query.method == .options,
            query.headers.contains(LocalDiscovery.discoveryHeader),
            LocalDiscovery.answers(announcement, community: query.headers[LocalDiscovery.discoveryHeader])
        else { return }
        let answer = LocalDiscovery.makeAnswer(to: query, announcement: announcement)
        var buffer = context.channel.allocator.buffer(capacity: 512)
        answer.write(into: &buffer)
        logger.debug("answering discovery query", metadata: ["from": "\(envelope.remoteAddress)"])
        context.writeAndFlush(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
    }
}
