import Foundation
import Logging
import NIOCore
import NIOPosix
import SIPCore
import SIPTransport
import SMFNode

/// Pushes every inbound item of a channel into an AsyncStream that a watchdog finishes after
/// `timeout`, so a test waiting for a message that never comes fails instead of hanging.
final class StreamCollector<Item: Sendable>: ChannelInboundHandler, Sendable {
    typealias InboundIn = Item
    let continuation: AsyncStream<Item>.Continuation

    init(continuation: AsyncStream<Item>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }

    static func make(timeout: Duration) -> (AsyncStream<Item>, StreamCollector<Item>) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self)
        Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        return (stream, StreamCollector(continuation: continuation))
    }
}

/// A raw UDP socket on 127.0.0.1 that sends text and reads datagrams (a scripted SIP peer).
final class UDPPeer {
    let channel: any Channel
    private var iterator: AsyncStream<AddressedEnvelope<ByteBuffer>>.Iterator
    var port: Int { channel.localAddress?.port ?? 0 }

    init(timeout: Duration = .seconds(10)) async throws {
        let (stream, collector) = StreamCollector<AddressedEnvelope<ByteBuffer>>.make(timeout: timeout)
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        iterator = stream.makeAsyncIterator()
    }

    func send(_ text: String, to port: Int) async throws {
        try await send(ByteBuffer(string: text), to: port)
    }

    func send(_ bytes: ByteBuffer, to port: Int) async throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes)).get()
    }

    /// The next datagram as text with its sender, or nil after the timeout.
    func receive() async -> (text: String, from: SocketAddress)? {
        guard let envelope = await iterator.next() else { return nil }
        return (String(buffer: envelope.data), envelope.remoteAddress)
    }

    func close() { channel.close(promise: nil) }
}

/// A raw TCP connection to 127.0.0.1 that writes text and reads messages delimited by a blank line
/// (enough for the bodiless responses under test).
final class TCPPeer {
    let channel: any Channel
    private var iterator: AsyncStream<ByteBuffer>.Iterator
    private var pending = ""

    init(connectingTo port: Int, timeout: Duration = .seconds(10)) async throws {
        let (stream, collector) = StreamCollector<ByteBuffer>.make(timeout: timeout)
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        iterator = stream.makeAsyncIterator()
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// Reads until `terminator` has arrived; returns the text up to and including it, or nil on timeout/close.
    func receive(until terminator: String = "\r\n\r\n") async -> String? {
        while true {
            if let range = pending.range(of: terminator) {
                let message = String(pending[..<range.upperBound])
                pending = String(pending[range.upperBound...])
                return message
            }
            guard let chunk = await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
    }

    /// Reads exactly `count` more bytes (as text, e.g. a body after its headers), or nil on timeout/close.
    func receive(bytes count: Int) async -> String? {
        while pending.utf8.count < count {
            guard let chunk = await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
        let bytes = Array(pending.utf8)
        pending = String(decoding: bytes[count...], as: UTF8.self)
        return String(decoding: bytes[..<count], as: UTF8.self)
    }

    /// Waits for the peer to close the connection; true if it did before the timeout.
    func waitForClose() async -> Bool {
        while await iterator.next() != nil {}
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
