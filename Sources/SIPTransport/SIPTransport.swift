public import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle
public import SIPSyntax
import SIPCore

/// The SIP transport of a node: UDP and TCP listeners, outgoing TCP connections and the transaction
/// layer, on one event loop (RFC 3261 §17, §18; RFC 3581; RFC 5626 §3.5.1).
///
/// Run it as a swift-service-lifecycle `Service`: ``run()`` binds the listeners (unless ``bind()`` was
/// called before) and keeps them open until graceful shutdown, then closes them. New requests go to the
/// ``SIPRequestHandler`` (usually a ``SIPUserAgentCore``); ``send(_:to:)`` runs a client transaction.
public final class SIPTransport: Service, Sendable {
    private let engine: SIPTransportEngine
    public let configuration: SIPTransportConfiguration
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: Listeners, timers and limits.
    ///   - handler: The transaction user that answers new requests.
    ///   - eventLoopGroup: One loop of this group runs all sockets of the transport.
    ///   - logger: Receives transport events at `info` and below.
    public init(
        configuration: SIPTransportConfiguration,
        handler: any SIPRequestHandler,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.logger = logger
        self.engine = SIPTransportEngine(eventLoop: eventLoopGroup.next(), configuration: configuration, handler: handler, logger: logger)
    }

    /// Opens the configured listeners and returns their bound addresses (ephemeral ports resolved).
    /// Calling it again returns the addresses already bound.
    @discardableResult
    public func bind() async throws -> [SIPListenAddress] {
        let engine = self.engine
        return try await engine.eventLoop.flatSubmit {
            engine.bind()
        }.get()
    }

    /// The addresses currently bound, in configuration order of transports (UDP first, then TCP).
    public var boundAddresses: [SIPListenAddress] {
        get async {
            let engine = self.engine
            return (try? await engine.eventLoop.submit { engine.boundAddresses }.get()) ?? []
        }
    }

    /// Datagrams dropped on purpose so far (``SIPTransportConfiguration/injectedReceiveLoss``, a test aid).
    public var injectedDrops: Int {
        get async {
            let engine = self.engine
            return (try? await engine.eventLoop.submit { engine.injectedDrops }.get()) ?? 0
        }
    }

    /// Runs until graceful shutdown or cancellation, then closes every socket.
    public func run() async throws {
        let addresses = try await bind()
        logger.info("SIP transport running", metadata: ["sip.listeners": "\(addresses.map(\.description).joined(separator: " "))"])
        try? await gracefulShutdown()
        await close()
        logger.info("SIP transport closed")
    }

    /// Closes listeners and connections and fails requests still waiting for a response.
    public func close() async {
        let engine = self.engine
        try? await engine.eventLoop.flatSubmit { engine.close() }.get()
    }

    /// Sends `request` in a client transaction and returns its final response (RFC 3261 §17.1).
    ///
    /// A top Via with a fresh branch and `rport` is added (RFC 3261 §8.1.1.7, RFC 3581 §3), as are
    /// `Max-Forwards: 70` and `User-Agent` when absent. A UDP request larger than
    /// ``SIPTransportConfiguration/udpSizeLimit`` goes over TCP instead (§18.1.1).
    /// - Throws: ``SIPTransportError`` — a timeout (the TU treats it as 408, §8.1.3.1), a transport
    ///   failure (503), ``SIPTransportError/refused`` when the outbound request hook kept the request back, or
    ///   ``SIPTransportError/cancelled`` when the calling task is cancelled.
    ///
    /// Runs on the caller's executor (`nonisolated(nonsending)`): a caller on the engine's event loop — every actor
    /// in `smf`, whose jobs run on NIO's loops — hands the request to the socket before it goes on.
    nonisolated(nonsending) public func send(_ request: SIPRequest, to destination: SIPDestination) async throws(SIPTransportError) -> SIPResponse {
        let address: SocketAddress
        do {
            if IPAddressSyntax.isIPv4(destination.host) || IPAddressSyntax.isIPv6(destination.host) {
                address = try SocketAddress(ipAddress: destination.host, port: destination.port)
            } else {
                address = try SocketAddress.makeAddressResolvingHost(destination.host, port: destination.port)
            }
        } catch {
            throw SIPTransportError.unresolvable(destination, error)
        }
        var request = request
        if !request.headers.contains("Max-Forwards") { request.headers.add(name: "Max-Forwards", value: "70") }
        if !request.headers.contains("User-Agent") { request.headers.add(name: "User-Agent", value: configuration.userAgent) }
        if let hook = configuration.outboundRequestHook {
            guard let prepared = await hook(request, destination) else { throw SIPTransportError.refused }
            request = prepared
        }

        var transport = destination.transport
        if transport == .udp {
            var probe = request
            probe.headers.prepend(name: "Via", value: "SIP/2.0/UDP [0000:0000:0000:0000:0000:0000:0000:0000]:65535;branch=\(SIPBranch.make());rport")
            var buffer = ByteBuffer()
            SIPMessage.request(probe).write(into: &buffer)
            if buffer.readableBytes > configuration.udpSizeLimit { transport = .tcp }  // §18.1.1
        }

        let engine = self.engine
        let promise = engine.eventLoop.makePromise(of: SIPResponse.self)
        let finalTransport = transport
        let prepared = request
        let start: @Sendable () -> Void = {
            let connection: EventLoopFuture<(any Channel)?>
            switch finalTransport {
            case .udp:
                guard engine.hasUDPSocket(for: address) else {
                    promise.fail(SIPTransportError.noListener(.udp, family: address.protocol == .inet6 ? "IPv6" : "IPv4"))
                    return
                }
                connection = engine.eventLoop.makeSucceededFuture(nil)
            case .tcp:
                connection = engine.connection(to: address).map { Optional($0) }
            }
            connection.whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(SIPTransportError.connectFailed(SIPDestination(transport: finalTransport, host: destination.host, port: destination.port), error))
                case .success(let channel):
                    guard let sentBy = engine.sentBy(for: finalTransport, destination: address, connection: channel) else {
                        promise.fail(SIPTransportError.noListener(finalTransport, family: address.protocol == .inet6 ? "IPv6" : "IPv4"))
                        return
                    }
                    var outgoing = prepared
                    let via = "SIP/2.0/\(finalTransport.viaToken) \(sentBy.host):\(sentBy.port);branch=\(SIPBranch.make());rport"
                    outgoing.headers.prepend(name: "Via", value: via)
                    engine.startClientTransaction(outgoing, destination: address, transport: finalTransport, connection: channel, promise: promise)
                }
            }
        }
        // On the engine's loop already: the request leaves now, not after whatever else the loop has queued.
        if engine.eventLoop.inEventLoop { start() } else { engine.eventLoop.execute(start) }
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(SIPTransportError.cancelled)
            }
        } catch let error as SIPTransportError {
            throw error
        } catch {
            throw SIPTransportError.sendFailed(destination.description, error)
        }
    }
}
