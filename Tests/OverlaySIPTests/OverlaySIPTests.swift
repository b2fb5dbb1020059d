import Logging
import NIOCore
import Overlay
import OverlaySIP
import SIPSyntax
import SIPTransport
import Testing

/// One in-process overlay node on its own UDP transport on 127.0.0.1.
struct Harness {
    let node: OverlayNode
    let transport: SIPTransport
    let address: OverlayAddress

    static let epoch = OverlayInstant(milliseconds: 1_700_000_000_000)

    static var fastConfiguration: OverlayConfiguration {
        var configuration = OverlayConfiguration()
        configuration.stabilizeInterval = .milliseconds(100)
        configuration.fixFingersInterval = .milliseconds(50)
        configuration.checkPredecessorInterval = .milliseconds(200)
        configuration.requestTimeout = .milliseconds(300)
        configuration.retryDelay = .milliseconds(200)
        configuration.retries = 5
        return configuration
    }

    static func transportConfiguration() -> SIPTransportConfiguration {
        var configuration = SIPTransportConfiguration()
        configuration.listeners = [SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 0)]
        configuration.udpSizeLimit = 60_000  // loopback: keep large join answers on UDP
        return configuration
    }

    static func make(configuration: OverlayConfiguration = fastConfiguration) async throws -> Harness {
        var logger = Logger(label: "overlay-sip-test")
        logger.logLevel = .warning
        let core = SIPUserAgentCore()
        let transport = SIPTransport(configuration: transportConfiguration(), handler: core, logger: logger)
        let bound = try await transport.bind()
        let port = try #require(bound.first?.port)
        let address = OverlayAddress("127.0.0.1:\(port)")
        let node = OverlayNode(
            identity: NodeIdentity.generate(), address: address, transport: transport,
            configuration: configuration, epoch: epoch, logger: logger
        )
        await node.attach(to: core)
        return Harness(node: node, transport: transport, address: address)
    }

    func shutdown() async {
        await node.stop()
        await transport.close()
    }
}

/// Starts a ring on the first node and joins the others through it.
func makeRing(_ count: Int, configuration: OverlayConfiguration = Harness.fastConfiguration) async throws -> [Harness] {
    var nodes: [Harness] = []
    for _ in 0..<count { nodes.append(try await Harness.make(configuration: configuration)) }
    try await nodes[0].node.join(bootstrap: [])
    for harness in nodes.dropFirst() {
        try await harness.node.join(bootstrap: [nodes[0].address], attemptTimeout: .seconds(10))
    }
    return nodes
}

/// Whether every live node's successors are the true next nodes clockwise (brute force over the sorted ids).
func ringConverged(_ nodes: [Harness], listLength: Int = Harness.fastConfiguration.successorListLength) async -> Bool {
    let ids = nodes.map(\.node.me.id).sorted()
    for harness in nodes {
        let status = await harness.node.status()
        guard let index = ids.firstIndex(of: harness.node.me.id) else { return false }
        let expected = (1..<min(ids.count, listLength + 1)).map { ids[(index + $0) % ids.count] }
        let actual = status.successors.prefix(expected.count).map(\.id)
        if Array(actual) != expected { return false }
        if status.predecessor?.id != ids[(index + ids.count - 1) % ids.count] { return false }
    }
    return true
}

/// Polls `condition` until it holds or `limit` passes on the clock; returns whether it held.
func eventually(within limit: Duration, _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: limit)
    while clock.now < deadline {
        if await condition() { return true }
        try? await clock.sleep(for: .milliseconds(50))
    }
    return await condition()
}

@Suite(.serialized) struct OverlaySIPRingTests {
    @Test func fiveNodesJoinThroughOneBootstrapAndConvergeToTheTrueRing() async throws {
        let nodes = try await makeRing(5)
        for harness in nodes { #expect(await harness.node.status().phase == .joined) }
        let converged = await eventually(within: .seconds(20)) { await ringConverged(nodes) }
        #expect(converged)
        for harness in nodes { await harness.shutdown() }
    }

    @Test func recordPutOnOneNodeIsGotOnAnother() async throws {
        let nodes = try await makeRing(5)
        #expect(await eventually(within: .seconds(20)) { await ringConverged(nodes) })
        let writer = nodes[1].node
        let registration = UserRegistration(aor: "sip:pump7@plant.example", contacts: ["sip:pump7@10.0.0.7:5060"])
        try await writer.put(registration.record(sequence: 1, expiry: Harness.epoch.advanced(by: .seconds(3600)), by: writer.identity))
        for reader in nodes where reader.node !== writer {
            #expect(try await reader.node.lookup(aor: "sip:pump7@plant.example") == ["sip:pump7@10.0.0.7:5060"])
        }
        #expect(try await nodes[3].node.get("user:sip:nobody@plant.example").isEmpty)
        for harness in nodes { await harness.shutdown() }
    }

    @Test func recordsAreStillFoundAfterTheOwnerStopsAndTheRingRepairs() async throws {
        let nodes = try await makeRing(5)
        #expect(await eventually(within: .seconds(20)) { await ringConverged(nodes) })
        let writer = nodes[0].node
        let aors = (0..<6).map { "sip:sensor\($0)@plant.example" }
        for (index, aor) in aors.enumerated() {
            let registration = UserRegistration(aor: aor, contacts: ["sip:sensor\(index)@10.0.1.\(index):5060"])
            try await writer.put(registration.record(sequence: 1, expiry: Harness.epoch.advanced(by: .seconds(3600)), by: writer.identity))
        }
        // Stop the owner of the first record (not the writer), as a crash: no leave message.
        let owner = try await writer.owner(of: UserRegistration.resourceID(aor: aors[0]).id)
        let victim = try #require(nodes.first { $0.node.me.id == owner.id && $0.node !== writer } ?? nodes.last)
        await victim.shutdown()
        let survivors = nodes.filter { $0.node !== victim.node }
        #expect(await eventually(within: .seconds(20)) { await ringConverged(survivors) })
        for (index, aor) in aors.enumerated() {
            for reader in survivors {
                #expect(try await reader.node.lookup(aor: aor) == ["sip:sensor\(index)@10.0.1.\(index):5060"])
            }
        }
        for harness in survivors { await harness.shutdown() }
    }
}

extension OverlaySIPRingTests {
    @Test func recordsOfANodeThatLeavesGracefullyAreFoundOnTheOthers() async throws {
        let nodes = try await makeRing(4)
        #expect(await eventually(within: .seconds(20)) { await ringConverged(nodes) })
        let leaver = nodes[2]
        let registration = UserRegistration(aor: "sip:valve3@plant.example", contacts: ["sip:valve3@10.0.2.3:5060"])
        try await leaver.node.put(registration.record(sequence: 1, expiry: Harness.epoch.advanced(by: .seconds(3600)), by: leaver.node.identity))
        await leaver.node.leave()
        #expect(await leaver.node.status().phase == .left)
        let survivors = nodes.filter { $0.node !== leaver.node }
        #expect(await eventually(within: .seconds(20)) { await ringConverged(survivors) })
        for reader in survivors {
            #expect(try await reader.node.lookup(aor: "sip:valve3@plant.example") == ["sip:valve3@10.0.2.3:5060"])
        }
        await leaver.shutdown()
        for harness in survivors { await harness.shutdown() }
    }

    @Test func lookupsAcrossARingLargerThanTheSuccessorListSucceedAndFarFindsAreRedirectedWith302() async throws {
        var configuration = Harness.fastConfiguration
        configuration.successorListLength = 2
        configuration.replicaCount = 2
        let nodes = try await makeRing(10, configuration: configuration)
        #expect(await eventually(within: .seconds(30)) { await ringConverged(nodes, listLength: 2) })
        // Every node finds the true owner of every other node's id (its own id is owned by itself).
        let asker = nodes[0].node
        for target in nodes.dropFirst() {
            #expect(try await asker.owner(of: target.node.me.id).id == target.node.me.id)
        }
        // A find for a key beyond the asked node's successors comes back as a 302 naming closer peers.
        let sorted = nodes.sorted { $0.node.me.id < $1.node.me.id }
        let asked = sorted[0].node.me
        let farKey = sorted[6].node.me.id
        var logger = Logger(label: "overlay-sip-client")
        logger.logLevel = .warning
        let client = SIPTransport(configuration: Harness.transportConfiguration(), handler: SIPUserAgentCore(), logger: logger)
        try await client.bind()
        let destination = try OverlaySIPCarriage.destination(of: asked.address)
        let outsider = OverlayPeer(id: NodeID(hashing: [42]), address: "127.0.0.1:1")
        let find = OverlaySIPCarriage.request(
            carrying: OverlayEnvelope(sender: outsider, message: .findRequest(id: 77, key: farKey, maintenance: false)),
            to: destination, recipient: asked.id, callID: "find-far", fromTag: "f1"
        )
        let redirect = try await client.send(find, to: destination)
        #expect(redirect.statusCode == 302)
        let contacts = redirect.headers.contacts.compactMap(\.uri.user)
        #expect(!contacts.isEmpty)
        let ids = Set(nodes.map(\.node.me.id.description))
        #expect(contacts.allSatisfy { ids.contains($0) && $0 != asked.id.description })
        guard case .findResponse(77, .closer(let closer), false) = try OverlaySIPCarriage.decodeBody(redirect.body).message else {
            Issue.record("the 302 body is not a redirecting find answer")
            return
        }
        #expect(closer.map(\.id.description) == contacts)
        #expect(closer.allSatisfy { $0.id.isBetween(asked.id, farKey) })
        await client.close()

        let writer = nodes[4].node
        let registration = UserRegistration(aor: "sip:far@plant.example", contacts: ["sip:far@10.0.3.1:5060"])
        try await writer.put(registration.record(sequence: 1, expiry: Harness.epoch.advanced(by: .seconds(3600)), by: writer.identity))
        for reader in nodes {
            #expect(try await reader.node.lookup(aor: "sip:far@plant.example") == ["sip:far@10.0.3.1:5060"])
        }
        for harness in nodes { await harness.shutdown() }
    }

    @Test func joinThroughAnUnreachableBootstrapFailsWithJoinFailed() async throws {
        let lonely = try await Harness.make()
        let silent = try await Harness.make()
        await silent.shutdown()  // its port is closed: nothing answers
        await #expect(throws: OverlaySIPError.self) {
            try await lonely.node.join(bootstrap: [silent.address], attemptTimeout: .seconds(1))
        }
        #expect(await lonely.node.status().phase != .joined)
        await lonely.shutdown()
    }

    @Test func joinFallsBackToTheNextBootstrapWhenTheFirstDoesNotAnswer() async throws {
        let ring = try await makeRing(2)
        let silent = try await Harness.make()
        await silent.shutdown()
        let joiner = try await Harness.make()
        try await joiner.node.join(bootstrap: [silent.address, ring[1].address], attemptTimeout: .seconds(1))
        #expect(await joiner.node.status().phase == .joined)
        let all = ring + [joiner]
        #expect(await eventually(within: .seconds(20)) { await ringConverged(all) })
        for harness in all { await harness.shutdown() }
    }
}

@Suite struct OverlaySIPCarriageTests {
    let sender = OverlayPeer(id: NodeID(hashing: [1, 2, 3]), address: "127.0.0.1:5070")
    let destination = SIPDestination(transport: .udp, host: "127.0.0.1", port: 5080)

    @Test func requestCarriesEnvelopeAsRegisterWithOverlayHeadersAndDecodesBack() throws {
        let envelope = OverlayEnvelope(sender: sender, message: .findRequest(id: 9, key: NodeID(hashing: [4]), maintenance: false))
        let recipient = NodeID(hashing: [5])
        let request = OverlaySIPCarriage.request(carrying: envelope, to: destination, recipient: recipient, callID: "c1", fromTag: "t1")
        #expect(request.method == .register)
        #expect(request.uri.user == recipient.description)
        #expect(request.uri.host == "127.0.0.1" && request.uri.port == 5080)
        #expect(request.headers["Overlay-Message"] == "find")
        #expect(request.headers["Overlay-Node"] == sender.id.description)
        #expect(request.headers.contentType == "application/smf-overlay")
        #expect(try OverlaySIPCarriage.envelope(in: request) == envelope)
    }

    @Test func redirectingFindAnswerIsA302WithOneContactPerCloserPeer() throws {
        let closer = [
            OverlayPeer(id: NodeID(hashing: [7]), address: "127.0.0.1:6001"),
            OverlayPeer(id: NodeID(hashing: [8]), address: "127.0.0.1:6002"),
        ]
        let query = OverlaySIPCarriage.request(
            carrying: OverlayEnvelope(sender: sender, message: .findRequest(id: 1, key: .zero, maintenance: true)),
            to: destination, recipient: nil, callID: "c2", fromTag: "t2"
        )
        let answer = OverlayEnvelope(sender: sender, message: .findResponse(id: 1, answer: .closer(closer), maintenance: true))
        let response = OverlaySIPCarriage.response(to: query, answer: answer)
        #expect(response.statusCode == 302)
        #expect(response.headers.contacts.map(\.uri.user) == closer.map(\.id.description))
        #expect(response.headers.contacts.map(\.uri.port) == [6001, 6002])
        #expect(try OverlaySIPCarriage.decodeBody(response.body) == answer)
    }

    @Test func requestWhoseHeaderDisagreesWithTheBodyIsRejected() {
        let envelope = OverlayEnvelope(sender: sender, message: .ping(id: 3))
        var request = OverlaySIPCarriage.request(carrying: envelope, to: destination, recipient: nil, callID: "c3", fromTag: "t3")
        request.headers.replaceOrAdd(name: "Overlay-Message", value: "store")
        #expect(throws: OverlaySIPError.self) { try OverlaySIPCarriage.envelope(in: request) }
        request.headers.replaceOrAdd(name: "Overlay-Message", value: "ping")
        request.headers.replaceOrAdd(name: "Overlay-Node", value: NodeID.zero.description)
        #expect(throws: OverlaySIPError.self) { try OverlaySIPCarriage.envelope(in: request) }
    }

    @Test func ringNamedInTheRequestIsCarriedAndAnotherRingIsRefused() async throws {
        let envelope = OverlayEnvelope(sender: sender, message: .ping(id: 4))
        let request = OverlaySIPCarriage.request(carrying: envelope, to: destination, recipient: nil, callID: "c4", fromTag: "t4", ring: "ring-x")
        #expect(request.headers["Overlay-Ring"] == "ring-x")
        #expect(OverlaySIPCarriage.ring(of: request) == "ring-x")
        let plain = OverlaySIPCarriage.request(carrying: envelope, to: destination, recipient: nil, callID: "c5", fromTag: "t5")
        #expect(OverlaySIPCarriage.ring(of: plain) == nil, "the default ring sends no Overlay-Ring")

        let target = try await Harness.make()
        defer { Task { await target.shutdown() } }
        try await target.node.join(bootstrap: [])
        let refused = await target.node.answer(request)
        #expect(refused.statusCode == 404)
        #expect(refused.reasonPhrase == "Unknown Overlay Ring")
        let answered = await target.node.answer(plain)
        #expect(answered.statusCode == 200, "its own (default) ring's ping is answered")
        #expect(try OverlaySIPCarriage.decodeBody(answered.body).message == .pong(id: 4))
    }

    @Test func addressesParseAsHostPortOrSIPURI() throws {
        #expect(try OverlaySIPCarriage.destination(of: "127.0.0.1:5070") == SIPDestination(transport: .udp, host: "127.0.0.1", port: 5070))
        #expect(try OverlaySIPCarriage.destination(of: "sip:node@10.1.2.3:5090;transport=tcp") == SIPDestination(transport: .tcp, host: "10.1.2.3", port: 5090))
        #expect(throws: OverlaySIPError.self) { try OverlaySIPCarriage.destination(of: "no port here") }
    }
}

@Suite struct OverlaySIPMalformedTests {
    @Test func malformedOverlayRequestOverUDPGets400NamingTheProblem() async throws {
        let target = try await Harness.make()
        try await target.node.join(bootstrap: [])
        var logger = Logger(label: "overlay-sip-client")
        logger.logLevel = .warning
        let client = SIPTransport(configuration: Harness.transportConfiguration(), handler: SIPUserAgentCore(), logger: logger)
        try await client.bind()
        let destination = try OverlaySIPCarriage.destination(of: target.address)
        let sender = OverlayPeer(id: NodeID(hashing: [9]), address: "127.0.0.1:1")
        var request = OverlaySIPCarriage.request(
            carrying: OverlayEnvelope(sender: sender, message: .ping(id: 1)), to: destination, recipient: nil, callID: "bad-1", fromTag: "x1"
        )
        request.body = ByteBuffer(bytes: [0xFF, 0x00, 0x13, 0x37])
        let garbage = try await client.send(request, to: destination)
        #expect(garbage.statusCode == 400)
        #expect(garbage.reasonPhrase.contains("Undecodable Overlay Body"))

        var missing = request
        missing.headers.replaceOrAdd(name: "Call-ID", value: "bad-2")
        missing.body = ByteBuffer()
        let empty = try await client.send(missing, to: destination)
        #expect(empty.statusCode == 400)
        #expect(empty.reasonPhrase.contains("Empty Overlay Body"))

        // A well-formed ping still gets its pong in the 200 body.
        let ping = OverlaySIPCarriage.request(
            carrying: OverlayEnvelope(sender: sender, message: .ping(id: 2)), to: destination, recipient: nil, callID: "ok-1", fromTag: "x2"
        )
        let pong = try await client.send(ping, to: destination)
        #expect(pong.statusCode == 200)
        #expect(try OverlaySIPCarriage.decodeBody(pong.body).message == .pong(id: 2))
        await client.close()
        await target.shutdown()
    }
}
