import Foundation
import NIOCore
import SIPCore
import SIPSyntax
import SIPTransport
import SMFNode
import Testing

/// An in-process node over real loopback sockets (RFC 3261 §18, RFC 3581).
@Suite struct SocketTests {
    @Test func optionsOverUDPIsAnsweredAtTheSourcePortWithRportFilled() async throws {
        try await withNode { _, udpPort, _ in
            let peer = try await UDPPeer()
            defer { peer.close() }
            // The Via names a port nobody listens on: only rport routing (RFC 3581 §4) reaches us.
            try await peer.send(optionsText(branch: "z9hG4bKudp1", via: "SIP/2.0/UDP 127.0.0.1:9"), to: udpPort)
            let response = try #require(await peer.receive())
            #expect(statusLine(of: response.text) == "SIP/2.0 200 OK")
            #expect(response.from.port == udpPort)
            let via = try #require(headerValue("Via", in: response.text).flatMap(SIPVia.init))
            #expect(via.rport == .value(peer.port))
            #expect(via.received == "127.0.0.1")
            #expect(headerValue("Allow", in: response.text)?.contains("OPTIONS") == true)
            #expect(headerValue("Server", in: response.text) == "smf/0.1.0")
            #expect(headerValue("To", in: response.text)?.contains(";tag=") == true)
        }
    }

    @Test func requestOverTCPIsAnsweredOnTheSameConnection() async throws {
        try await withNode { _, _, tcpPort in
            let peer = try await TCPPeer(connectingTo: tcpPort)
            defer { peer.close() }
            // The Via names an unreachable port: the response must reuse this connection (§18.2.2).
            try await peer.send(optionsText(branch: "z9hG4bKtcp1", via: "SIP/2.0/TCP 127.0.0.1:9"))
            let first = try #require(await peer.receive())
            #expect(statusLine(of: first) == "SIP/2.0 200 OK")
            #expect(headerValue("CSeq", in: first) == "1 OPTIONS")
            // Pipelined keep-alive ping and a second request on the same connection.
            try await peer.send("\r\n\r\n" + optionsText(branch: "z9hG4bKtcp2", via: "SIP/2.0/TCP 127.0.0.1:9"))
            let pong = try #require(await peer.receive(until: "\r\n"))
            #expect(pong == "\r\n")  // RFC 5626 §3.5.1
            let second = try #require(await peer.receive())
            #expect(statusLine(of: second) == "SIP/2.0 200 OK")
            #expect(headerValue("Via", in: second)?.contains("z9hG4bKtcp2") == true)
        }
    }

    @Test func malformedRequestGets400NamingTheProblemAndTheNodeKeepsServing() async throws {
        try await withNode { _, udpPort, tcpPort in
            let peer = try await UDPPeer()
            defer { peer.close() }
            let missingCallID = optionsText(branch: "z9hG4bKbad1").replacingOccurrences(of: "Call-ID:", with: "X-Not-Call-ID:")
            try await peer.send(missingCallID, to: udpPort)
            let rejection = try #require(await peer.receive()).text
            #expect(statusLine(of: rejection).hasPrefix("SIP/2.0 400 "))
            #expect(statusLine(of: rejection).contains("Call-ID"))
            #expect(headerValue("Via", in: rejection)?.contains("z9hG4bKbad1") == true)

            try await peer.send(optionsText(branch: "z9hG4bKgood1"), to: udpPort)
            #expect(try statusLine(of: #require(await peer.receive()).text) == "SIP/2.0 200 OK")

            // Over TCP the 400 is sent and the connection closed (framing is lost).
            let stream = try await TCPPeer(connectingTo: tcpPort)
            try await stream.send(missingCallID)
            let tcpRejection = try #require(await stream.receive())
            #expect(statusLine(of: tcpRejection).hasPrefix("SIP/2.0 400 "))
            #expect(await stream.waitForClose())
        }
    }

    @Test func garbageDatagramsAndStreamsDoNotKillTheNode() async throws {
        try await withNode { _, udpPort, tcpPort in
            let peer = try await UDPPeer()
            defer { peer.close() }
            var generator = SeededGenerator(seed: 4475)
            let prefixes = ["", "OPTIONS ", "SIP/2.0 200 OK\r\n", "INVITE sip:a@b SIP/2.0\r\nVia: ", "\r\n\r\n"]
            for index in 0..<300 {
                var bytes = Array(prefixes[index % prefixes.count].utf8)
                let count = Int(generator.next() % 1500)
                for _ in 0..<count { bytes.append(UInt8(truncatingIfNeeded: generator.next())) }
                try await peer.send(ByteBuffer(bytes: bytes), to: udpPort)
            }
            // An oversized datagram (beyond the 65,535-byte message limit is impossible over UDP; use 65,000).
            try await peer.send(ByteBuffer(repeating: 0x41, count: 65_000), to: udpPort)
            for index in 0..<5 {
                let stream = try await TCPPeer(connectingTo: tcpPort, timeout: .seconds(3))
                var bytes: [UInt8] = Array("INVITE sip:x SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n".utf8)
                for _ in 0..<(2000 * (index + 1)) { bytes.append(UInt8(truncatingIfNeeded: generator.next())) }
                try? await stream.channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
                stream.close()
            }
            // Drain whatever 400s were sent back, then check both transports still answer. The node may still be
            // working through the garbage with its receive buffer full, so the OPTIONS is retransmitted until answered.
            let check = try await UDPPeer()
            defer { check.close() }
            let answer = try await check.sendUntilAnswered(optionsText(branch: "z9hG4bKafter"), to: udpPort)
            #expect(try statusLine(of: #require(answer, "no answer to OPTIONS over UDP within \(check.timeout)").text) == "SIP/2.0 200 OK")
            let stream = try await TCPPeer(connectingTo: tcpPort)
            try await stream.send(optionsText(branch: "z9hG4bKafterTCP", via: "SIP/2.0/TCP 127.0.0.1:9"))
            #expect(try statusLine(of: #require(await stream.receive())) == "SIP/2.0 200 OK")
            stream.close()
        }
    }

    @Test func clientTransactionRetransmitsOverUDPWhenTheFirstCopyIsDropped() async throws {
        var timers = SIPTimerConfiguration()
        timers.t1 = .milliseconds(50)
        try await withNode(timers: timers) { node, _, _ in
            let peer = try await UDPPeer()
            defer { peer.close() }
            let uri = try #require(SIPURI("sip:peer@127.0.0.1:\(peer.port)"))
            let request = SIPRequest(method: .options, uri: uri, headers: SIPHeaders([
                ("From", "<sip:smf@127.0.0.1>;tag=abc"), ("To", "<sip:peer@127.0.0.1>"), ("Call-ID", "retransmit@test"), ("CSeq", "7 OPTIONS"),
            ]))
            let destination = SIPDestination(transport: .udp, host: "127.0.0.1", port: peer.port)
            let transport = node.transport
            let response = Task { try await transport.send(request, to: destination) }
            let first = try #require(await peer.receive())  // ignored, as if lost
            let second = try #require(await peer.receive())
            let branch = try #require(headerValue("Via", in: first.text).flatMap(SIPVia.init)?.branch)
            #expect(branch.hasPrefix("z9hG4bK"))
            #expect(headerValue("Via", in: second.text).flatMap(SIPVia.init)?.branch == branch)
            #expect(headerValue("Via", in: first.text).flatMap(SIPVia.init)?.rport == .requested)
            #expect(headerValue("User-Agent", in: first.text) == "smf/0.1.0")
            #expect(headerValue("Max-Forwards", in: first.text) == "70")
            let via = try #require(headerValue("Via", in: second.text))
            let answer = "SIP/2.0 200 OK\r\nVia: \(via)\r\nFrom: <sip:smf@127.0.0.1>;tag=abc\r\nTo: <sip:peer@127.0.0.1>;tag=p1\r\nCall-ID: retransmit@test\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            try await peer.send(answer, to: second.from.port ?? 0)
            let final = try await response.value
            #expect(final.statusCode == 200)
            #expect(final.headers.to?.tag == "p1")
        }
    }

    @Test func clientTransactionTimesOutWhenNobodyAnswers() async throws {
        var timers = SIPTimerConfiguration()
        timers.t1 = .milliseconds(5)  // Timer F = 64·T1 = 320 ms
        try await withNode(timers: timers) { node, _, _ in
            let peer = try await UDPPeer()
            defer { peer.close() }
            let request = SIPRequest(method: .options, uri: try #require(SIPURI("sip:peer@127.0.0.1:\(peer.port)")), headers: SIPHeaders([
                ("From", "<sip:smf@127.0.0.1>;tag=abc"), ("To", "<sip:peer@127.0.0.1>"), ("Call-ID", "timeout@test"), ("CSeq", "1 OPTIONS"),
            ]))
            await #expect(throws: SIPTransportError.timeout) {
                _ = try await node.transport.send(request, to: SIPDestination(transport: .udp, host: "127.0.0.1", port: peer.port))
            }
            #expect(SIPTransportError.timeout.equivalentStatusCode == 408)
        }
    }

    @Test func largeRequestSwitchesFromUDPToTCP() async throws {
        // Node B listens on the same port number for UDP and TCP so "udp:B" can be reached over TCP.
        let port = try FreePorts.reserve()
        let listeners = [SIPListenAddress(transport: .udp, host: "127.0.0.1", port: port), SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: port)]
        try await withNode(listeners: listeners) { bob, _, _ in
            let seen = TransportRecorder()
            await bob.userAgent.register(.message) { incoming in
                await seen.record(incoming.source.transport, via: incoming.request.headers.topVia?.transport ?? "")
                return .answering(incoming.request, statusCode: 200)
            }
            try await withNode { alice, _, _ in
                let body = String(repeating: "x", count: 1400)
                let request = SIPRequest(
                    method: .message, uri: try #require(SIPURI("sip:bob@127.0.0.1:\(port)")),
                    headers: SIPHeaders([("From", "<sip:alice@127.0.0.1>;tag=a"), ("To", "<sip:bob@127.0.0.1>"), ("Call-ID", "big@test"), ("CSeq", "1 MESSAGE"), ("Content-Type", "text/plain")]),
                    body: ByteBuffer(string: body)
                )
                let response = try await alice.transport.send(request, to: SIPDestination(transport: .udp, host: "127.0.0.1", port: port))
                #expect(response.statusCode == 200)
                let small = SIPRequest(
                    method: .message, uri: try #require(SIPURI("sip:bob@127.0.0.1:\(port)")),
                    headers: SIPHeaders([("From", "<sip:alice@127.0.0.1>;tag=a"), ("To", "<sip:bob@127.0.0.1>"), ("Call-ID", "small@test"), ("CSeq", "2 MESSAGE"), ("Content-Type", "text/plain")]),
                    body: ByteBuffer(string: "hi")
                )
                #expect(try await alice.transport.send(small, to: SIPDestination(transport: .udp, host: "127.0.0.1", port: port)).statusCode == 200)
            }
            let recorded = await seen.entries
            #expect(recorded.count == 2)
            #expect(recorded.first?.transport == .tcp)  // §18.1.1: > 1300 bytes goes over TCP
            #expect(recorded.first?.via == "TCP")
            #expect(recorded.last?.transport == .udp)
            #expect(recorded.last?.via == "UDP")
        }
    }
}

extension SocketTests {
    @Test(arguments: [SIPTransportProtocol.udp, .tcp])
    func nodesExchangeOptionsOverIPv6(transport: SIPTransportProtocol) async throws {
        let listeners = [SIPListenAddress(transport: .udp, host: "::1", port: 0), SIPListenAddress(transport: .tcp, host: "::1", port: 0)]
        try await withNode(listeners: listeners) { _, udpPort, tcpPort in
            try await withNode(listeners: listeners) { alice, _, _ in
                let port = transport == .udp ? udpPort : tcpPort
                let request = SIPRequest(method: .options, uri: try #require(SIPURI("sip:bob@[::1]:\(port)")), headers: SIPHeaders([
                    ("From", "<sip:alice@[::1]>;tag=a6"), ("To", "<sip:bob@[::1]>"), ("Call-ID", "v6@test"), ("CSeq", "1 OPTIONS"),
                ]))
                let response = try await alice.transport.send(request, to: SIPDestination(transport: transport, host: "::1", port: port))
                #expect(response.statusCode == 200)
                #expect(response.headers.topVia?.transport == transport.viaToken)
                #expect(response.headers.topVia?.host == "[::1]")
            }
        }
    }
}

extension SocketTests {
    @Test func cancellingTheWaitingTaskAbandonsTheRequest() async throws {
        try await withNode { node, _, _ in
            let silent = try await UDPPeer()
            defer { silent.close() }
            let request = SIPRequest(method: .options, uri: try #require(SIPURI("sip:peer@127.0.0.1:\(silent.port)")), headers: SIPHeaders([
                ("From", "<sip:smf@127.0.0.1>;tag=c"), ("To", "<sip:peer@127.0.0.1>"), ("Call-ID", "cancel@test"), ("CSeq", "1 OPTIONS"),
            ]))
            let transport = node.transport
            let destination = SIPDestination(transport: .udp, host: "127.0.0.1", port: silent.port)
            let waiting = Task { () throws(SIPTransportError) -> SIPResponse in try await transport.send(request, to: destination) }
            _ = try #require(await silent.receive())  // the request is on the wire
            waiting.cancel()
            await #expect(throws: SIPTransportError.cancelled) { try await waiting.value }
        }
    }
}

actor TransportRecorder {
    private(set) var entries: [(transport: SIPTransportProtocol, via: String)] = []
    func record(_ transport: SIPTransportProtocol, via: String) { entries.append((transport, via)) }
}

/// A deterministic xorshift generator so the garbage corpus is the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
