import Foundation
import Logging
import NIOCore
import NIOPosix
import SIPCore
import SIPTransport
import SMFNode

/// Keeps every inbound item of a channel for a test to take one at a time. Each wait has its own deadline (a
/// slow step earlier in the test does not shorten a later wait), so a test waiting for a message that never
/// comes fails after that deadline instead of hanging.
final class ReceivedItems<Item: Sendable>: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Item
    private let lock = NSLock()
    private var items: [Item] = []
    private var closed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let item = unwrapInboundIn(data)
        lock.withLock { items.append(item) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        lock.withLock { closed = true }
    }

    /// The oldest item not taken yet; nil when none arrives before `deadline` or the channel closed first.
    func next(before deadline: ContinuousClock.Instant) async -> Item? {
        while true {
            let (item, isClosed) = lock.withLock { () -> (Item?, Bool) in
                items.isEmpty ? (nil, closed) : (items.removeFirst(), closed)
            }
            if let item { return item }
            if isClosed || ContinuousClock.now >= deadline { return nil }
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return nil }
        }
    }
}

/// A raw UDP socket on 127.0.0.1 that sends text and reads datagrams (a scripted SIP peer).
final class UDPPeer {
    let channel: any Channel
    private let received: ReceivedItems<AddressedEnvelope<ByteBuffer>>
    /// How long each ``receive()`` waits.
    let timeout: Duration
    var port: Int { channel.localAddress?.port ?? 0 }

    /// - Parameter timeout: how long each ``receive()`` waits for the next datagram.
    init(timeout: Duration = .seconds(10)) async throws {
        let received = ReceivedItems<AddressedEnvelope<ByteBuffer>>()
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.received = received
        self.timeout = timeout
    }

    func send(_ text: String, to port: Int) async throws {
        try await send(ByteBuffer(string: text), to: port)
    }

    func send(_ bytes: ByteBuffer, to port: Int) async throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes)).get()
    }

    /// Sends `text` to `port`, and again every 500 ms (T1, RFC 3261 §17.1.2.2 Timer E) as a SIP client over UDP does,
    /// until a datagram arrives; that datagram, or nil when none arrives within `timeout`. For requests to a node whose
    /// receive buffer may be full (a datagram that does not fit is dropped).
    func sendUntilAnswered(_ text: String, to port: Int) async throws -> (text: String, from: SocketAddress)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try await send(text, to: port)
            if let answer = await receive(before: min(ContinuousClock.now + .milliseconds(500), deadline)) { return answer }
        }
        return nil
    }

    /// The next datagram as text with its sender, or nil when none arrives within `timeout`.
    func receive() async -> (text: String, from: SocketAddress)? {
        await receive(before: ContinuousClock.now + timeout)
    }

    /// The next datagram as text with its sender, or nil when none arrives before `deadline` (for loops that
    /// skip datagrams and must still end).
    func receive(before deadline: ContinuousClock.Instant) async -> (text: String, from: SocketAddress)? {
        guard let envelope = await received.next(before: deadline) else { return nil }
        return (String(buffer: envelope.data), envelope.remoteAddress)
    }

    func close() { channel.close(promise: nil) }
}

/// A raw TCP connection to 127.0.0.1 that writes text and reads messages delimited by a blank line
/// (enough for the bodiless responses under test).
final class TCPPeer {
    let channel: any Channel
    private let received: ReceivedItems<ByteBuffer>
    /// How long each receive waits.
    let timeout: Duration
    private var pending = ""

    /// - Parameter timeout: how long each receive waits for what it reads.
    init(connectingTo port: Int, timeout: Duration = .seconds(10)) async throws {
        let received = ReceivedItems<ByteBuffer>()
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        self.received = received
        self.timeout = timeout
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// Reads until `terminator` has arrived; returns the text up to and including it, or nil when it does not
    /// arrive within `timeout` or the connection closes first.
    func receive(until terminator: String = "\r\n\r\n") async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = pending.range(of: terminator) {
                let message = String(pending[..<range.upperBound])
                pending = String(pending[range.upperBound...])
                return message
            }
            guard let chunk = await received.next(before: deadline) else { return nil }
            pending += String(buffer: chunk)
        }
    }

    /// Reads exactly `count` more bytes (as text, e.g. a body after its headers), or nil on timeout/close.
    func receive(bytes count: Int) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while pending.utf8.count < count {
            guard let chunk = await received.next(before: deadline) else { return nil }
            pending += String(buffer: chunk)
        }
        let bytes = Array(pending.utf8)
        pending = String(decoding: bytes[count...], as: UTF8.self)
        return String(decoding: bytes[..<count], as: UTF8.self)
    }

    /// Waits for the peer to close the connection; true if it did within `timeout`.
    func waitForClose() async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while await received.next(before: deadline) != nil {}
        return !channel.isActive
    }

    func close() { channel.close(promise: nil) }
}

/// An in-process node on ephemeral loopback ports, running until the body returns.
func withNode<T>(
    timers: SIPTimerConfiguration = SIPTimerConfiguration(),
    listeners: [SIPListenAddress] = [
        SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 0),
        SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 0),
    ],
    services: NodeServiceOptions = NodeServiceOptions(),
    _ body: (SMFNode, _ udpPort: Int, _ tcpPort: Int) async throws -> T
) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-it-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var logger = Logger(label: "smf.test")
    logger.logLevel = .critical
    var configuration = NodeConfiguration(listeners: listeners, dataDirectory: directory, timers: timers)
    configuration.services = services
    let node = SMFNode(configuration: configuration, logger: logger)
    let addresses = try await node.start()
    let udpPort = addresses.first { $0.transport == .udp }?.port ?? 0
    let tcpPort = addresses.first { $0.transport == .tcp }?.port ?? 0
    let running = Task { try await node.run() }
    do {
        let result = try await body(node, udpPort, tcpPort)
        await node.shutdown()
        try await running.value
        return result
    } catch {
        await node.shutdown()
        _ = try? await running.value
        throw error
    }
}

/// A minimal OPTIONS request as a SIP peer would write it.
func optionsText(branch: String, via: String = "SIP/2.0/UDP 127.0.0.1:5999", callID: String = UUID().uuidString, extraHeaders: String = "") -> String {
    "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
        + "Via: \(via);branch=\(branch);rport\r\n"
        + "Max-Forwards: 70\r\n"
        + "From: <sip:test@127.0.0.1>;tag=t1\r\n"
        + "To: <sip:ping@127.0.0.1>\r\n"
        + "Call-ID: \(callID)\r\n"
        + "CSeq: 1 OPTIONS\r\n"
        + extraHeaders
        + "Content-Length: 0\r\n\r\n"
}

/// Returns the value of the first header `name` in a message text.
func headerValue(_ name: String, in text: String) -> String? {
    for line in text.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}

func statusLine(of text: String) -> String {
    String(text.split(separator: "\r\n", maxSplits: 1).first ?? "")
}
