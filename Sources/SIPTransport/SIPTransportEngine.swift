import Logging
import NIOCore
import NIOPosix
import SIPCore
import SIPSyntax

/// The event-loop-confined heart of ``SIPTransport``: sockets, the TCP connection table, the
/// ``SIPTransactionLayer`` and its timers (RFC 3261 §17, §18).
///
/// Every stored property is read and written on ``eventLoop`` only; that confinement is what makes the
/// `@unchecked Sendable` sound. Handlers of all channels run on the same loop, because the transport
/// uses one event loop for its listeners and connections.
final class SIPTransportEngine: @unchecked Sendable {
    let eventLoop: any EventLoop
    let configuration: SIPTransportConfiguration
    let logger: Logger
    let handler: any SIPRequestHandler
    private let parser: SIPParser

    private var layer: SIPTransactionLayer

    private struct UDPSocket {
        var channel: any Channel
        var local: SIPListenAddress
    }

    private var udpSockets: [UDPSocket] = []
    private var tcpServers: [(channel: any Channel, local: SIPListenAddress)] = []
    /// Open TCP connections, accepted and outgoing, keyed by remote address (RFC 3261 §18.2.2, §18.1.1).
    private var connections: [SocketAddress: any Channel] = [:]
    private var pendingConnections: [SocketAddress: EventLoopFuture<any Channel>] = [:]

    private struct TimerID: Hashable {
        var key: SIPTransactionKey
        var timer: SIPTimer
    }

    private var timers: [TimerID: Scheduled<Void>] = [:]
    /// Datagrams dropped by ``SIPTransportConfiguration/injectedReceiveLoss``.
    private(set) var injectedDrops = 0

    /// Where a client transaction sends its request and who waits for the final response.
    private struct ClientContext {
        var destination: SocketAddress
        var transport: SIPTransportProtocol
        var connection: (any Channel)?
        var promise: EventLoopPromise<SIPResponse>
    }

    /// Where a server transaction's responses go (RFC 3261 §18.2.2).
    private struct ServerContext {
        var transport: SIPTransportProtocol
        var remote: SocketAddress
        var connection: (any Channel)?
    }

    private var clients: [SIPTransactionKey: ClientContext] = [:]
    private var servers: [SIPTransactionKey: ServerContext] = [:]
    private var bindFuture: EventLoopFuture<[SIPListenAddress]>?
    private var isClosed = false

    init(eventLoop: any EventLoop, configuration: SIPTransportConfiguration, handler: any SIPRequestHandler, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.parser = SIPParser(limits: configuration.parserLimits)
        self.layer = SIPTransactionLayer(configuration: configuration.timers)
    }

    // MARK: - Binding and closing

    /// Opens every configured listener and returns the addresses actually bound (ports filled in).
    /// Later calls return the same result.
    func bind() -> EventLoopFuture<[SIPListenAddress]> {
        eventLoop.assertInEventLoop()
        if let bindFuture { return bindFuture }
        guard !isClosed else { return eventLoop.makeFailedFuture(SIPTransportError.notRunning) }
        var futures: [EventLoopFuture<SIPListenAddress>] = []
        for listener in configuration.listeners {
            switch listener.transport {
            case .udp: futures.append(bindUDP(listener))
            case .tcp: futures.append(bindTCP(listener))
            }
        }
        let future = EventLoopFuture.whenAllSucceed(futures, on: eventLoop).flatMapError { error in
            self.close().flatMapThrowing { throw error }
        }
        bindFuture = future
        return future
    }

    private func bindUDP(_ listener: SIPListenAddress) -> EventLoopFuture<SIPListenAddress> {
        DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: configuration.maximumDatagramSize + 1))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SIPDatagramHandler(engine: self))
                }
            }
            .bind(host: listener.host, port: listener.port)
            .map { channel in
                let bound = SIPListenAddress(transport: .udp, host: listener.host, port: channel.localAddress?.port ?? listener.port)
                self.udpSockets.append(UDPSocket(channel: channel, local: bound))
                return bound
            }
    }

    private func bindTCP(_ listener: SIPListenAddress) -> EventLoopFuture<SIPListenAddress> {
        ServerBootstrap(group: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try self.configureStream(channel, role: .accepted) }
            }
            .bind(host: listener.host, port: listener.port)
            .map { channel in
                let bound = SIPListenAddress(transport: .tcp, host: listener.host, port: channel.localAddress?.port ?? listener.port)
                self.tcpServers.append((channel, bound))
                return bound
            }
    }

    private func configureStream(_ channel: any Channel, role: SIPStreamFramer.ConnectionRole) throws {
        let decoder = SIPStreamDecoder(limits: configuration.parserLimits, role: role)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
        try channel.pipeline.syncOperations.addHandler(SIPStreamHandler(engine: self))
    }

    /// Closes listeners and connections, cancels timers and fails every waiting request.
    func close() -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        isClosed = true
        for (_, scheduled) in timers { scheduled.cancel() }
        timers.removeAll()
        let waiting = clients
        clients.removeAll()
        servers.removeAll()
        for (_, context) in waiting { context.promise.fail(SIPTransportError.notRunning) }
        let channels: [any Channel] = udpSockets.map(\.channel) + tcpServers.map(\.channel) + Array(connections.values)
        udpSockets.removeAll()
        tcpServers.removeAll()
        connections.removeAll()
        let closes = channels.map { channel in channel.close().recover { _ in } }
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }

    var boundAddresses: [SIPListenAddress] { udpSockets.map(\.local) + tcpServers.map(\.local) }

    // MARK: - Inbound

    func datagramReceived(_ bytes: ByteBuffer, from remote: SocketAddress, on channel: any Channel) {
        guard !isClosed else { return }
        if configuration.injectedReceiveLoss > 0, Double.random(in: 0..<1) < configuration.injectedReceiveLoss {
            injectedDrops += 1
            return
        }
        let message: SIPMessage
        do throws(SIPParseError) {
            message = try parser.parse(datagram: bytes)
        } catch {
            rejectMalformed(error, transport: .udp, remote: remote, connection: nil)
            return
        }
        switch message {
        case .request(let request): requestReceived(request, transport: .udp, remote: remote, connection: nil)
        case .response(let response): responseReceived(response, from: remote)
        }
    }

    func streamMessageReceived(_ message: SIPMessage, on channel: any Channel) {
        guard !isClosed, let remote = channel.remoteAddress else { return }
        switch message {
        case .request(let request): requestReceived(request, transport: .tcp, remote: remote, connection: channel)
        case .response(let response): responseReceived(response, from: remote)
        }
    }

    func malformedStream(_ error: SIPParseError, on channel: any Channel) {
        guard let remote = channel.remoteAddress else {
            channel.close(promise: nil)
            return
        }
        rejectMalformed(error, transport: .tcp, remote: remote, connection: channel)
        // Framing is lost after a malformed message on a stream: close once the 400 is written.
        channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
    }

    /// A malformed request that can be answered gets its 400 (or 505) straight back to the source
    /// address; a malformed response is dropped and logged (RFC 3261 §18.1.2, §18.2.1; RFC 4475 §3.1.2).
    private func rejectMalformed(_ error: SIPParseError, transport: SIPTransportProtocol, remote: SocketAddress, connection: (any Channel)?) {
        guard let response = error.badRequestResponse() else {
            logger.info("dropped malformed message", metadata: ["sip.remote": "\(remote)", "sip.transport": "\(transport)", "sip.error": "\(error)"])
            return
        }
        logger.info("rejected malformed request", metadata: ["sip.remote": "\(remote)", "sip.transport": "\(transport)", "sip.status": "\(response.statusCode) \(response.reasonPhrase)"])
        sendStateless(response, remote: remote, connection: connection)
    }

    /// Sends a response outside any transaction: over `connection`, else by UDP to the source address.
    private func sendStateless(_ response: SIPResponse, remote: SocketAddress, connection: (any Channel)?) {
        let bytes = serialize(.response(response))
        if let connection {
            connection.writeAndFlush(bytes, promise: nil)
        } else if let socket = udpSocket(for: remote) {
            socket.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: bytes), promise: nil)
        }
    }

    private func requestReceived(_ request: SIPRequest, transport: SIPTransportProtocol, remote: SocketAddress, connection: (any Channel)?) {
        var request = request
        guard let sourceIP = remote.ipAddress, let sourcePort = remote.port,
            SIPViaProcessing.annotateTopVia(of: &request, sourceIP: sourceIP, sourcePort: sourcePort)
        else {
            logger.info("dropped request without a Via", metadata: ["sip.remote": "\(remote)"])
            return
        }
        let key: SIPTransactionKey
        do throws(SIPTransactionError) {
            key = try SIPTransactionKey.server(for: request)
        } catch {
            // §8.2: a request that cannot be matched is answered statelessly with 400 (never an ACK).
            logger.info("rejected request that cannot be matched to a transaction", metadata: ["sip.remote": "\(remote)", "sip.error": "\(error)"])
            if request.method != .ack {
                let response = SIPResponse.answering(request, statusCode: 400, reasonPhrase: "Bad Request - \(error)")
                sendStateless(response, remote: remote, connection: connection)
            }
            return
        }
        if request.method != .ack, servers[key] == nil {
            servers[key] = ServerContext(transport: transport, remote: remote, connection: connection)
        } else if let connection, servers[key] != nil {
            servers[key]?.connection = connection
        }
        let source = SIPDestination(transport: transport, host: sourceIP, port: sourcePort)
        execute(layer.requestReceived(request, reliability: transport.reliability), source: source)
    }

    private func responseReceived(_ response: SIPResponse, from remote: SocketAddress) {
        execute(layer.responseReceived(response), source: nil)
    }

    func connectionOpened(_ channel: any Channel) {
        guard let remote = channel.remoteAddress else { return }
        if isClosed {
            channel.close(promise: nil)
            return
        }
        connections[remote] = channel
    }

    func connectionClosed(_ channel: any Channel) {
        guard let remote = channel.remoteAddress else { return }
        if let current = connections[remote], current === channel { connections[remote] = nil }
    }

    // MARK: - Client requests

    /// Starts a client transaction for `request` (already carrying our Via) towards `destination`.
    func startClientTransaction(_ request: SIPRequest, destination: SocketAddress, transport: SIPTransportProtocol, connection: (any Channel)?, promise: EventLoopPromise<SIPResponse>) {
        guard !isClosed else {
            promise.fail(SIPTransportError.notRunning)
            return
        }
        let started: (key: SIPTransactionKey, actions: [SIPTransactionLayerAction])
        do throws(SIPTransactionError) {
            started = try layer.tuSentRequest(request, reliability: transport.reliability)
        } catch {
            promise.fail(SIPTransportError.invalidRequest("\(error)"))
            return
        }
        clients[started.key] = ClientContext(destination: destination, transport: transport, connection: connection, promise: promise)
        execute(started.actions, source: nil)
    }

    /// The local address to put in a Via sent-by for `transport` towards `destination`'s address family.
    func sentBy(for transport: SIPTransportProtocol, destination: SocketAddress, connection: (any Channel)?) -> (host: String, port: Int)? {
        let family = Self.family(of: destination)
        switch transport {
        case .udp:
            guard let socket = udpSockets.first(where: { Self.family(ofHost: $0.local.host) == family }) else { return nil }
            return (socket.local.hostForURI, socket.local.port)
        case .tcp:
            if let server = tcpServers.first(where: { Self.family(ofHost: $0.local.host) == family }) {
                return (server.local.hostForURI, server.local.port)
            }
            guard let local = connection?.localAddress, let ip = local.ipAddress, let port = local.port else { return nil }
            return (ip.contains(":") ? "[\(ip)]" : ip, port)
        }
    }

    func hasUDPSocket(for destination: SocketAddress) -> Bool {
        let family = Self.family(of: destination)
        return udpSockets.contains { Self.family(ofHost: $0.local.host) == family }
    }

    /// An open TCP connection to `remote`, reusing the table or connecting (RFC 3261 §18.1.1).
    func connection(to remote: SocketAddress) -> EventLoopFuture<any Channel> {
        if let existing = connections[remote], existing.isActive { return eventLoop.makeSucceededFuture(existing) }
        if let pending = pendingConnections[remote] { return pending }
        let future = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try self.configureStream(channel, role: .initiated) }
            }
            .connect(to: remote)
        pendingConnections[remote] = future
        future.whenComplete { result in
            self.pendingConnections[remote] = nil
            if case .success(let channel) = result {
                if self.isClosed { channel.close(promise: nil) } else { self.connections[remote] = channel }
            }
        }
        return future
    }

    // MARK: - Executing transaction actions

    private func execute(_ actions: [SIPTransactionLayerAction], source: SIPDestination?) {
        for action in actions { execute(action, source: source) }
    }

    private func execute(_ action: SIPTransactionLayerAction, source: SIPDestination?) {
        switch action {
        case .sendRequest(let key, let request), .sendAck(let key, let request):
            sendClientMessage(request, for: key)
        case .sendResponse(let key, let response):
            sendServerResponse(response, for: key)
        case .scheduleTimer(let key, let timer, let delay):
            let id = TimerID(key: key, timer: timer)
            timers[id]?.cancel()
            timers[id] = eventLoop.scheduleTask(in: TimeAmount(delay)) { [self] in
                self.timers[id] = nil
                guard !self.isClosed else { return }
                self.execute(self.layer.timerFired(timer, for: key), source: nil)
            }
        case .cancelTimer(let key, let timer):
            timers.removeValue(forKey: TimerID(key: key, timer: timer))?.cancel()
        case .deliverResponseToTU(let key, let response):
            if response.isFinal { clients.removeValue(forKey: key)?.promise.succeed(response) }
        case .deliverRequestToTU(let key, let request):
            deliverToTU(request, key: key, source: source)
        case .reportTimeout(let key):
            clients.removeValue(forKey: key)?.promise.fail(SIPTransportError.timeout)
        case .reportTransportError(let key):
            clients.removeValue(forKey: key)?.promise.fail(SIPTransportError.transportFailure)
        case .transactionTerminated(let key):
            for timer in SIPTimer.allCases { timers.removeValue(forKey: TimerID(key: key, timer: timer))?.cancel() }
            clients.removeValue(forKey: key)?.promise.fail(SIPTransportError.transportFailure)
            servers[key] = nil
            timers.shrinkIfSparse()
            clients.shrinkIfSparse()
            servers.shrinkIfSparse()
        case .deliverStrayResponseToTU(let response), .discardStrayResponse(let response):
            logger.debug("dropped response matching no transaction", metadata: ["sip.status": "\(response.statusCode)", "sip.call-id": "\(response.headers.callID ?? "-")"])
        case .deliverAckToTU(let request):
            logger.trace("ACK without transaction", metadata: ["sip.call-id": "\(request.headers.callID ?? "-")"])
        case .discardInvalidRequest(let request, let error):
            logger.info("dropped request that matches no transaction", metadata: ["sip.method": "\(request.method)", "sip.error": "\(error)"])
        }
    }

    private func deliverToTU(_ request: SIPRequest, key: SIPTransactionKey, source: SIPDestination?) {
        let source = source ?? SIPDestination(transport: .udp, host: "0.0.0.0", port: 0)
        let handler = self.handler
        let incoming = SIPIncomingRequest(request: request, source: source)
        Task {
            guard let response = await handler.handle(incoming) else { return }
            self.eventLoop.execute {
                guard !self.isClosed else { return }
                do throws(SIPTransactionError) {
                    self.execute(try self.layer.tuSentResponse(response, for: key), source: nil)
                } catch {
                    self.logger.debug("response for a finished transaction dropped", metadata: ["sip.status": "\(response.statusCode)", "sip.error": "\(error)"])
                }
            }
        }
    }

    private func sendClientMessage(_ request: SIPRequest, for key: SIPTransactionKey) {
        guard let context = clients[key] else { return }
        let bytes = serialize(.request(request))
        let written: EventLoopFuture<Void>
        switch context.transport {
        case .udp:
            guard let socket = udpSocket(for: context.destination) else {
                transportFailed(key)
                return
            }
            written = socket.writeAndFlush(AddressedEnvelope(remoteAddress: context.destination, data: bytes))
        case .tcp:
            guard let connection = context.connection, connection.isActive else {
                transportFailed(key)
                return
            }
            written = connection.writeAndFlush(bytes)
        }
        written.whenFailure { error in
            self.logger.info("send failed", metadata: ["sip.remote": "\(context.destination)", "sip.error": "\(error)"])
            self.transportFailed(key)
        }
    }

    private func sendServerResponse(_ response: SIPResponse, for key: SIPTransactionKey) {
        guard let context = servers[key] else { return }
        let bytes = serialize(.response(response))
        switch context.transport {
        case .tcp:
            // §18.2.2: over the connection the request came on, else a new one to the Via address.
            if let connection = context.connection, connection.isActive {
                connection.writeAndFlush(bytes).whenFailure { _ in self.transportFailed(key) }
                return
            }
            guard let via = response.headers.topVia else { return }
            let target = SIPViaProcessing.responseTarget(for: via)
            guard let address = try? SocketAddress(ipAddress: target.host, port: target.port) else { return }
            connection(to: address).flatMap { $0.writeAndFlush(bytes) }.whenFailure { _ in self.transportFailed(key) }
        case .udp:
            // §18.2.2 and RFC 3581 §4: to `received` and `rport` of the top Via.
            var destination = context.remote
            if let via = response.headers.topVia {
                let target = SIPViaProcessing.responseTarget(for: via)
                if let address = try? SocketAddress(ipAddress: target.host, port: target.port) { destination = address }
            }
            guard let socket = udpSocket(for: destination) else { return }
            socket.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: bytes)).whenFailure { _ in
                self.transportFailed(key)
            }
        }
    }

    private func transportFailed(_ key: SIPTransactionKey) {
        guard !isClosed else { return }
        execute(layer.transportFailed(for: key), source: nil)
    }

    private func udpSocket(for destination: SocketAddress) -> (any Channel)? {
        let family = Self.family(of: destination)
        return udpSockets.first(where: { Self.family(ofHost: $0.local.host) == family })?.channel
    }

    private func serialize(_ message: SIPMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        message.write(into: &buffer)
        return buffer
    }

    static func family(of address: SocketAddress) -> Int {
        if case .v6 = address { return 6 }
        return 4
    }

    static func family(ofHost host: String) -> Int { host.contains(":") ? 6 : 4 }
}

extension SIPTransportProtocol {
    var reliability: SIPTransportReliability { isReliable ? .reliable : .unreliable }
}
