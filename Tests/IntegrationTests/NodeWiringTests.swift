import ControlChannel
import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import Presence
import SIPSyntax
import SIPTransport
import Storage
import Testing

@testable import SMFNode

/// The pieces the node builds its services from, without processes.
struct NodeWiringTests {
    @Test func addressOfRecordIsTheFirstUDPListenerElseTheFirstListenerWithItsTransport() throws {
        let both = [
            SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 5070), SIPListenAddress(transport: .udp, host: "::1", port: 5060),
        ]
        #expect(SMFNode.addressOfRecord(user: "alice", addresses: both)?.description == "sip:alice@[::1]:5060")
        let tcpOnly = [SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 5070)]
        #expect(SMFNode.addressOfRecord(user: "alice", addresses: tcpOnly)?.description == "sip:alice@127.0.0.1:5070;transport=tcp")
        #expect(SMFNode.addressOfRecord(user: "alice", addresses: []) == nil)
    }

    @Test func publishArgumentsBecomeOneTupleWithLocationNotesAndPersonActivities() throws {
        let aor = try #require(SIPURI("sip:alice@127.0.0.1:5060"))
        let document = try SMFNode.presenceDocument(
            PresencePublishArguments(status: "closed", note: "away", activities: ["busy", "on-the-phone"], latitude: 48.85, longitude: 2.35),
            entity: aor)
        #expect(document.basicStatus == .closed)
        #expect(document.notes.map(\.text) == ["away"])
        #expect(document.activities == [.busy, .onThePhone])
        #expect(document.location?.position == PresenceGeodeticPosition(latitude: 48.85, longitude: 2.35))
        #expect(document.tuples.first?.contact?.uri == "sip:alice@127.0.0.1:5060")
        // It is valid PIDF and reads back the same.
        let body = try document.eventBody()
        let decoded = try PresenceDocument(eventBody: body)
        #expect(decoded.basicStatus == .closed && decoded.activities == [.busy, .onThePhone])
    }

    @Test(arguments: [
        (PresencePublishArguments(status: "maybe"), "status must be open or closed, not 'maybe'"),
        (PresencePublishArguments(status: "open", latitude: 91, longitude: 0), "is not a WGS 84 latitude"),
        (PresencePublishArguments(status: "open", latitude: 10), "a location needs both latitude and longitude"),
    ])
    func badPublishArgumentsAreRefusedWithTheReason(arguments: PresencePublishArguments, reason: String) throws {
        let aor = try #require(SIPURI("sip:alice@127.0.0.1"))
        let error = try #require(throws: ControlError.self) { try SMFNode.presenceDocument(arguments, entity: aor) }
        #expect(error.code == .badArgument)
        #expect(error.message.contains(reason), "\(error.message)")
    }

    @Test func registrationRefreshesAMinuteEarlyOrHalfwayForShortBindings() {
        #expect(RegistrationClient.refreshDelay(forExpires: 3600) == .seconds(3540))
        #expect(RegistrationClient.refreshDelay(forExpires: 120) == .seconds(60))
        #expect(RegistrationClient.refreshDelay(forExpires: 1) == .seconds(1))
        #expect(RegistrationClient.refreshDelay(forExpires: 0) == .seconds(1))
    }

    @Test func registrarAddressOfRecordTakesTheRegistrarHostAndPort() throws {
        let registrar = try #require(SIPURI("sip:10.0.0.1:5070;transport=tcp"))
        #expect(RegistrationClient.addressOfRecord(user: "alice", registrar: registrar).description == "sip:alice@10.0.0.1:5070")
    }

    @Test func packageOfAnEventValueDropsItsParameters() {
        #expect(SMFNode.package(of: "presence") == "presence")
        #expect(SMFNode.package(of: "m2m-alarm;id=7") == "m2m-alarm")
    }

    @Test func inboxStoresAMessageBeforeAcceptingItAndRefusesOnceClosed() async throws {
        let database = try SMFDatabase.inMemory(logger: Logger(label: "smf.test"))
        let inbox = MessageInbox(database: database, logger: Logger(label: "smf.test"))
        let (_, followed) = await inbox.follow()
        func message(_ text: String) -> SIPReceivedMessage {
            SIPReceivedMessage(
                from: SIPURI("sip:alice@127.0.0.1:5060"), to: SIPURI("sip:bob@127.0.0.1:5070"),
                body: SIPEventBody(contentType: "text/plain", text: text), source: SIPDestination(transport: .udp, host: "127.0.0.1", port: 5060))
        }
        let accepted = await inbox.messageArrived(message("valve 3 open"), receivedAt: 1000)
        #expect(accepted == .accept)
        let stored = try await database.messages()
        #expect(stored.map(\.text) == ["valve 3 open"])
        #expect(stored.first?.from == "sip:alice@127.0.0.1:5060")
        #expect(stored.first?.receivedAt == 1000)
        var iterator = followed.makeAsyncIterator()
        #expect(await iterator.next()?.text == "valve 3 open")

        await inbox.close()
        #expect(await inbox.hook(message("late")) == .refuse(statusCode: 503))
        #expect(try await database.messages().count == 1, "refused messages are not stored")
        #expect(await iterator.next() == nil, "closing the inbox ends its followers")
    }
}
