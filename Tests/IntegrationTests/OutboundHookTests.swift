import Foundation
import Logging
import NIOCore
import SIPCore
import SIPSyntax
import SIPTransport
import Testing

/// Answers every request 200 and remembers what arrived.
private final class RecordingHandler: SIPRequestHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [SIPRequest] = []

    var requests: [SIPRequest] { lock.withLock { seen } }

    func handle(_ incoming: SIPIncomingRequest) async -> SIPResponse? {
        lock.withLock { seen.append(incoming.request) }
        return .answering(incoming.request, statusCode: 200)
    }
}

/// `SIPTransportConfiguration.outboundRequestHook` over real loopback sockets: the hook sees each request once,
/// what it returns is what leaves (its size decides UDP or TCP), and nil keeps the request back.
@Suite struct OutboundHookTests {
    private static func transport(handler: any SIPRequestHandler, hook: SIPOutboundRequestHook? = nil) async throws -> (SIPTransport, Int) {
        var configuration = SIPTransportConfiguration()
        // One port for UDP and TCP: a request too large for UDP goes over TCP to the same port (RFC 3261 §18.1.1).
        let port = try FreePorts.reserve()
        configuration.listeners = [
            SIPListenAddress(transport: .udp, host: "127.0.0.1", port: port), SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: port),
        ]
        configuration.outboundRequestHook = hook
        var logger = Logger(label: "hook-test")
        logger.logLevel = .critical
        let transport = SIPTransport(configuration: configuration, handler: handler, logger: logger)
        let bound = try await transport.bind()
        return (transport, try #require(bound.first { $0.transport == .udp }).port)
    }

    private static func options(to port: Int) -> SIPRequest {
        var headers = SIPHeaders()
        headers.to = SIPNameAddress(uri: SIPURI(user: "peer", host: "127.0.0.1", port: port))
        headers.from = SIPNameAddress(uri: SIPURI(user: "me", host: "127.0.0.1"), parameters: [("tag", "h1")])
        headers.callID = UUID().uuidString
        headers.cseq = SIPCSeq(sequence: 1, method: .options)
        return SIPRequest(method: .options, uri: SIPURI(user: "peer", host: "127.0.0.1", port: port), headers: headers)
    }

    @Test func whatTheHookReturnsLeavesAndNilKeepsTheRequestBack() async throws {
        let receiver = RecordingHandler()
        let (server, port) = try await Self.transport(handler: receiver)
        defer { Task { await server.close() } }
        let destination = SIPDestination(transport: .udp, host: "127.0.0.1", port: port)
        let (signing, _) = try await Self.transport(handler: RecordingHandler()) { request, _ in
            var request = request
            request.headers.add(name: "X-Signed", value: "yes")
            // Large enough to move the request to TCP: the size check counts what the hook added.
            request.headers.add(name: "X-Proof", value: String(repeating: "p", count: 1500))
            return request
        }
        defer { Task { await signing.close() } }
        let response = try await signing.send(Self.options(to: port), to: destination)
        #expect(response.statusCode == 200)
        let arrived = try #require(receiver.requests.last)
        #expect(arrived.headers["X-Signed"] == "yes")
        #expect(arrived.headers.topVia?.transport.uppercased() == "TCP", "the hook's headers made it too large for UDP")

        let (refusing, _) = try await Self.transport(handler: RecordingHandler()) { _, _ in nil }
        defer { Task { await refusing.close() } }
        let count = receiver.requests.count
        await #expect(throws: SIPTransportError.refused) { try await refusing.send(Self.options(to: port), to: destination) }
        #expect(receiver.requests.count == count, "nothing left")
    }
}
