import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

@Suite(.serialized) struct SIPEndpointMessageTests {
    @Test func messagesAreDeliveredBothWays() async throws {
        let alice = try await TestNode.start("alice")
        let bob = try await TestNode.start("bob")
        defer { Task { await alice.stop(); await bob.stop() } }
        let toBob = Collector(bob.endpoint.messages)
        let toAlice = Collector(alice.endpoint.messages)

        let there = try await alice.endpoint.sendMessage(to: bob.uri, body: "fire in building 7")
        #expect(there == .delivered(statusCode: 200))
        let back = try await bob.endpoint.sendMessage(to: alice.tcpURI, body: "{\"accepted\":true}", contentType: "application/json")
        #expect(back == .delivered(statusCode: 200))

        let received = await toBob.wait { !$0.isEmpty }
        #expect(received.first?.body.text == "fire in building 7")
        #expect(received.first?.from?.user == "alice")
        #expect(received.first?.source.transport == .udp)
        let answered = await toAlice.wait { !$0.isEmpty }
        #expect(answered.first?.body.contentType == "application/json")
        #expect(answered.first?.source.transport == .tcp)
    }

    @Test func refusedMessageReportsTheStatus() async throws {
        let alice = try await TestNode.start("alice")
        let bob = try await TestNode.start("bob")
        defer { Task { await alice.stop(); await bob.stop() } }
        let result = try await alice.endpoint.sendMessage(to: bob.uri, body: "x", contentType: "image/png")
        #expect(result == .rejected(statusCode: 415, reason: "Unsupported Media Type"))
    }

    @Test func messageHookRunsBeforeTheAnswerAndSurvivesRegisteringAPackageAfterStart() async throws {
        let kept = MessageLog()
        let alice = try await TestNode.start("alice")
        let bob = try await TestNode.start("bob", configure: { configuration in
            configuration.onMessage = { message in
                await kept.append(message.body.text)
                return .accept
            }
        })
        defer { Task { await alice.stop(); await bob.stop() } }

        #expect(try await alice.endpoint.sendMessage(to: bob.uri, body: "valve 3 open") == .delivered(statusCode: 200))
        #expect(await kept.texts == ["valve 3 open"], "the hook took the message before the 200 left")
        // Registering a package re-registers the endpoint's handlers with the UA core.
        await bob.endpoint.registerPackage(SIPBasicEventPackage(name: "m2m-status"))
        #expect(try await alice.endpoint.sendMessage(to: bob.uri, body: "valve 3 closed") == .delivered(statusCode: 200))
        #expect(await kept.texts == ["valve 3 open", "valve 3 closed"])
    }

    @Test func messageRefusedByTheHookIsAnsweredWithItsStatusAndNotPassedOn() async throws {
        let alice = try await TestNode.start("alice")
        let bob = try await TestNode.start("bob", configure: { configuration in
            configuration.onMessage = { message in message.body.text == "full" ? .refuse(statusCode: 500) : .refuse(statusCode: 200) }
        })
        defer { Task { await alice.stop(); await bob.stop() } }
        let toBob = Collector(bob.endpoint.messages)

        #expect(try await alice.endpoint.sendMessage(to: bob.uri, body: "full") == .rejected(statusCode: 500, reason: "Server Internal Error"))
        // A "refusal" with a success status would claim delivery: it becomes a 500.
        #expect(try await alice.endpoint.sendMessage(to: bob.uri, body: "odd") == .rejected(statusCode: 500, reason: "Server Internal Error"))
        await bob.endpoint.registerPackage(SIPBasicEventPackage(name: "m2m-status"))
        #expect(try await alice.endpoint.sendMessage(to: bob.uri, body: "full") == .rejected(statusCode: 500, reason: "Server Internal Error"))
        #expect(await toBob.items.isEmpty)
    }

    @Test func unreachablePeerIsReportedAsNotDelivered() async throws {
        let alice = try await TestNode.start("alice")
        let gone = try await TestNode.start("gone")
        let port = gone.udpPort
        let tcpPort = gone.tcpPort ?? 0
        await gone.stop()
        defer { Task { await alice.stop() } }

        let overTCP = try await alice.endpoint.sendMessage(to: SIPURI("sip:gone@127.0.0.1:\(tcpPort);transport=tcp")!, body: "hello?")
        #expect(overTCP == .timedOut)
        #expect(!overTCP.isDelivered)
        // UDP: no answer until Timer F (64·T1 = 3.2 s with the test's T1).
        let overUDP = try await alice.endpoint.sendMessage(to: SIPURI("sip:gone@127.0.0.1:\(port)")!, body: "hello?")
        #expect(overUDP == .timedOut)
    }
}

/// What a MESSAGE hook saw, in order.
private actor MessageLog {
    private(set) var texts: [String] = []
    func append(_ text: String) { texts.append(text) }
}
