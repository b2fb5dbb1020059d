import Logging
import NIOCore
import NIOPosix
import SIPSyntax
import Testing

@testable import Discovery

/// Discovery over real multicast sockets on the loopback interface (IP_MULTICAST_LOOP on,
/// IP_MULTICAST_IF 127.0.0.1). Each test uses its own port, so tests and other processes on the
/// host do not hear each other's queries.
@Suite struct LocalDiscoveryTests {
    func configuration(community: String? = nil) -> LocalDiscoveryConfiguration {
        var configuration = LocalDiscoveryConfiguration()
        configuration.interface = "127.0.0.1"
        configuration.port = Int.random(in: 20_000...60_000)
        configuration.community = community
        return configuration
    }

    func responder(_ configuration: LocalDiscoveryConfiguration, _ announcement: LocalAnnouncement?) async throws -> LocalDiscoveryResponder {
        var listening = configuration
        listening.community = nil
        let responder = LocalDiscoveryResponder(configuration: listening, announcement: announcement)
        try await responder.start()
        return responder
    }

    @Test func discoverReturnsTheContactOfEveryNodeInARingAndNothingFromSilentOnes() async throws {
        let configuration = configuration()
        let a = try await responder(configuration, LocalAnnouncement(contact: "sip:127.0.0.1:5071", nodeID: "aa01"))
        let b = try await responder(configuration, LocalAnnouncement(contact: "sip:127.0.0.1:5072", nodeID: "bb02"))
        let silent = try await responder(configuration, nil)
        let peers = try await LocalDiscovery.discover(configuration, timeout: .seconds(1))
        #expect(Set(peers.map(\.contact)) == ["sip:127.0.0.1:5071", "sip:127.0.0.1:5072"])
        #expect(Set(peers.compactMap(\.nodeID)) == ["aa01", "bb02"])
        // Three sends of the query, one entry per peer.
        #expect(peers.count == 2)
        for responder in [a, b, silent] { await responder.stop() }
    }

    @Test func responderAnswersOnlyWhileAnnouncing() async throws {
        let configuration = configuration()
        let node = try await responder(configuration, nil)
        #expect(try await LocalDiscovery.discover(configuration, timeout: .milliseconds(600)).isEmpty)
        await node.announce(LocalAnnouncement(contact: "sip:127.0.0.1:5080"))
        #expect(try await LocalDiscovery.discover(configuration, timeout: .seconds(1)).map(\.contact) == ["sip:127.0.0.1:5080"])
        await node.withdraw()
        #expect(try await LocalDiscovery.discover(configuration, timeout: .milliseconds(600)).isEmpty)
        await node.stop()
    }

    @Test func queryForOneCommunityIsAnsweredOnlyByItsMembers() async throws {
        let base = configuration()
        let home = try await responder(base, LocalAnnouncement(contact: "sip:127.0.0.1:5091", community: "home"))
        let office = try await responder(base, LocalAnnouncement(contact: "sip:127.0.0.1:5092", community: "office"))
        var query = base
        query.community = "home"
        let peers = try await LocalDiscovery.discover(query, timeout: .seconds(1))
        #expect(peers == [DiscoveredPeer(contact: "sip:127.0.0.1:5091", community: "home")])
        for responder in [home, office] { await responder.stop() }
    }

    @Test func discoverSkipsTheQueryingNodesOwnAnswer() async throws {
        let configuration = configuration()
        let me = try await responder(configuration, LocalAnnouncement(contact: "sip:127.0.0.1:6001", nodeID: "ME"))
        let other = try await responder(configuration, LocalAnnouncement(contact: "sip:127.0.0.1:6002", nodeID: "other"))
        let peers = try await LocalDiscovery.discover(configuration, timeout: .seconds(1), excludingNodeID: "me")
        #expect(peers.map(\.contact) == ["sip:127.0.0.1:6002"])
        for responder in [me, other] { await responder.stop() }
    }

    @Test func responderIgnoresGarbageAndOtherSIPThenStillAnswers() async throws {
        let configuration = configuration()
        let node = try await responder(configuration, LocalAnnouncement(contact: "sip:127.0.0.1:6100"))
        // A raw sender on the group: garbage, a SIP response, and an OPTIONS without the discovery header.
        let group = try SocketAddress(ipAddress: configuration.group, port: configuration.port)
        let sender = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        try await LocalDiscovery.configureSender(sender, interface: SocketAddress(ipAddress: "127.0.0.1", port: 0), ttl: 1).get()
        var plainOptions = LocalDiscovery.makeQuery(configuration, callID: "x", viaHost: "127.0.0.1", viaPort: 9)
        plainOptions.headers.remove(LocalDiscovery.discoveryHeader)
        var messages: [ByteBuffer] = [ByteBuffer(string: "\u{0}\u{1}not sip at all"), ByteBuffer(string: "SIP/2.0 200 OK\r\n\r\n")]
        var buffer = ByteBuffer()
        plainOptions.write(into: &buffer)
        messages.append(buffer)
        for message in messages { try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: group, data: message)) }
        // Answers go to the querier's source address: the raw sender must get none.
        let peers = try await LocalDiscovery.discover(configuration, timeout: .seconds(1))
        #expect(peers.map(\.contact) == ["sip:127.0.0.1:6100"])
        try await sender.close()
        await node.stop()
    }

    @Test func runStopsWhenItsTaskIsCancelled() async throws {
        let configuration = configuration()
        let node = LocalDiscoveryResponder(configuration: configuration, announcement: LocalAnnouncement(contact: "sip:127.0.0.1:6200"))
        let running = Task { try await node.run() }
        // The responder is up once a query is answered.
        var peers: [DiscoveredPeer] = []
        for _ in 0..<5 where peers.isEmpty {
            peers = try await LocalDiscovery.discover(configuration, timeout: .milliseconds(500))
        }
        #expect(peers.map(\.contact) == ["sip:127.0.0.1:6200"])
        running.cancel()
        try await running.value
        #expect(try await LocalDiscovery.discover(configuration, timeout: .milliseconds(600)).isEmpty)
    }

    @Test func wrongGroupOrInterfaceIsRefusedWithAClearError() async throws {
        var configuration = configuration()
        configuration.group = "10.0.0.1"
        do {
            _ = try await LocalDiscovery.discover(configuration, timeout: .milliseconds(100))
            Issue.record("a unicast group was accepted")
        } catch let error as LocalDiscoveryError {
            #expect(error.code == .notMulticast)
            #expect(error.message.contains("10.0.0.1"))
        }
        configuration.group = "239.255.255.75"
        configuration.interface = "192.0.2.250"
        let responder = LocalDiscoveryResponder(configuration: configuration)
        do {
            try await responder.start()
            Issue.record("an interface this host does not have was accepted")
        } catch let error as LocalDiscoveryError {
            #expect(error.code == .unknownInterface)
            #expect(error.message.contains("192.0.2.250"))
        }
    }

    @Test func answerEchoesTheQueryTransactionAndCarriesTheContact() throws {
        let configuration = configuration()
        let query = LocalDiscovery.makeQuery(configuration, callID: "call-1", viaHost: "127.0.0.1", viaPort: 4000)
        #expect(query.method == .options)
        #expect(query.headers["Max-Forwards"] == "1")
        #expect(query.headers["Via"]?.contains("maddr=\(configuration.group)") == true)
        let answer = LocalDiscovery.makeAnswer(to: query, announcement: LocalAnnouncement(contact: "sip:10.0.0.5:5060", nodeID: "ab"))
        #expect(answer.statusCode == 200)
        for name in ["Via", "Call-ID", "CSeq", "From"] { #expect(answer.headers[name] == query.headers[name]) }
        #expect(answer.headers["To"]?.contains(";tag=") == true)
        #expect(answer.headers["Contact"] == "<sip:10.0.0.5:5060>")
        #expect(answer.headers["Overlay-Node"] == "ab")
        // It parses back as SIP.
        var buffer = ByteBuffer()
        answer.write(into: &buffer)
        #expect(try SIPParser().parse(datagram: buffer).response?.statusCode == 200)
        #expect(DiscoveryCollector.uri(inContact: " <sip:a@b:5060>;expires=60") == "sip:a@b:5060")
        #expect(DiscoveryCollector.uri(inContact: "sip:c@d;q=1") == "sip:c@d")
        #expect(DiscoveryCollector.uri(inContact: "<mailto:x@y>") == nil)
    }
}
