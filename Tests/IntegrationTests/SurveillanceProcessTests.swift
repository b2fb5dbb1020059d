import Foundation
import ServicePlatform
import SMFNode
import Testing

/// Building surveillance across real `smf run` processes on 127.0.0.1 (issue 7): both variants end to end in a
/// community, escalation, a plain phone, a node of the chain killed mid-alarm, UDP loss, a burst of readings.
@Suite(.serialized) struct SurveillanceProcessTests {
    static let variant1 = "building-surveillance"
    static let variant2 = "building-surveillance-v2"
    /// variant1.xml's forward wire, which passes house 12's readings only, and the same wire for every building.
    static let forwardHouse12 = """
        <wire id="forward" from="recorder.forwards" to="forwarder.requests">
              <filter name="building" value="house-12"/>
            </wire>
        """
    static let forwardAll = #"<wire id="forward" from="recorder.forwards" to="forwarder.requests"/>"#

    @Test func variantOneInACommunityNotifiesTheNearestSupporterWhoDeclinesThenTheNextWhoAccepts() async throws {
        let cluster = try await SurveillanceCluster(
            SurveillanceCluster.serviceNodes + [SurveillanceCluster.supporter("alice", answers: "decline"), SurveillanceCluster.supporter("bob", answers: "accept")],
            community: true)
        defer { cluster.cleanUp() }
        try await cluster.formCommunity()
        try await cluster.deploy(try SurveillanceCluster.composition("variant1.xml"), named: "variant1.xml")
        try await cluster.register("alice", application: Self.variant1, buildings: "house-12", location: "52.5209,13.4055")
        try await cluster.register("bob", application: Self.variant1, location: "52.5290,13.4130")
        try await cluster.waitForSupporters(2, withAvailability: 2, application: Self.variant1, watchers: ["alice", "bob"])

        try await cluster.report("smoke-kitchen", value: 0.8, application: Self.variant1)
        try await cluster.report("smoke-hall", value: 0.7, application: Self.variant1)
        let alarm = try #require(try await cluster.acceptedAlarms().first)
        #expect(alarm.kind == "fire")
        #expect(alarm.building == "house-12")
        #expect(alarm.acceptedBy == (try cluster.addressOfRecord("bob")))
        #expect(alarm.told == ["\(try cluster.addressOfRecord("alice")) NOTIFY", "\(try cluster.addressOfRecord("bob")) NOTIFY"])

        // Each supporter's node stored the alarm and its answer.
        let aliceInbox = try await cluster.inbox("alice")
        #expect(aliceInbox.map(\.id) == [alarm.id])
        #expect(aliceInbox.first?.answer == "decline")
        #expect(aliceInbox.first?.channel == "NOTIFY")
        #expect(try await cluster.inbox("bob").first?.answer == "accept")

        // The alarm's path hop by hop, on the nodes that ran each service, then who was told and who accepted.
        let shown = try await cluster.show(alarm.id)
        let hops = [
            ("recorder (sensor-recorder)", "house-12", "took PUBLISH m2m-sensor"),
            ("forwarder (sensor-forwarder)", "forwarder", "received on requests by wire forward"),
            ("evaluator (event-evaluator)", "evaluator", "received on readings by wire evaluate"),
            ("selector (supporter-selector)", "selector", "received on alarms by wire alarms"),
            ("notifier (supporter-notifier)", "notifier", "received on selections by wire notify"),
        ]
        var last = shown.startIndex
        for (service, node, what) in hops {
            let line = try #require(
                shown[last...].split(separator: "\n").first { $0.contains(service) && $0.contains(what) }, "no hop '\(service) … \(what)' in:\n\(shown)")
            #expect(line.contains(try cluster.addressOfRecord(node)), "\(line)")
            last = try #require(shown.range(of: line)).upperBound
        }
        #expect(shown.contains("declined by alice"))
        #expect(shown.contains("escalated from alice: declined"))
        #expect(shown.contains("accepted by bob"))
        #expect(shown.contains("who was told:"))
        #expect(shown.contains("accepted by \(try cluster.addressOfRecord("bob"))"))
    }

    @Test func variantTwoInACommunityAsksSupportersBySubscribeAndTheyAnswerByNotify() async throws {
        let cluster = try await SurveillanceCluster(
            SurveillanceCluster.serviceNodes + [SurveillanceCluster.supporter("alice", answers: "decline"), SurveillanceCluster.supporter("bob", answers: "accept")],
            community: true)
        defer { cluster.cleanUp() }
        try await cluster.formCommunity()
        try await cluster.deploy(try SurveillanceCluster.composition("variant2.xml"), named: "variant2.xml")
        // Variant 2 supporters report nothing; the selector keeps registration order.
        try await cluster.register("alice", application: Self.variant2, buildings: "house-12", location: nil)
        try await cluster.register("bob", application: Self.variant2, location: nil)
        try await cluster.waitForSupporters(2, withAvailability: 0, application: Self.variant2, watchers: [])

        try await cluster.report("smoke-kitchen", value: 0.8, application: Self.variant2)
        try await cluster.report("smoke-hall", value: 0.7, application: Self.variant2)
        let alarm = try #require(try await cluster.acceptedAlarms().first)
        #expect(alarm.acceptedBy == (try cluster.addressOfRecord("bob")))
        #expect(alarm.told == ["\(try cluster.addressOfRecord("alice")) SUBSCRIBE", "\(try cluster.addressOfRecord("bob")) SUBSCRIBE"])
        let bob = try #require(try await cluster.inbox("bob").first)
        #expect(bob.channel == "SUBSCRIBE")
        #expect(bob.answer == "accept")
        #expect(bob.answerResult?.contains("NOTIFY in the notifier's subscription") == true, "\(String(describing: bob.answerResult))")
        #expect(try await cluster.inbox("alice").first?.answer == "decline")
    }

    @Test func escalationPassesOverASupporterWhoDeclinesAndOneWhoDoesNotAnswer() async throws {
        let cluster = try await SurveillanceCluster(
            SurveillanceCluster.serviceNodes + [
                SurveillanceCluster.supporter("alice", answers: "decline"), SurveillanceCluster.supporter("dave", answers: "none"),
                SurveillanceCluster.supporter("bob", answers: "accept"),
            ],
            community: false)
        defer { cluster.cleanUp() }
        try await cluster.deploy(
            try SurveillanceCluster.composition("variant1.xml", [("<param name=\"accept-timeout\">60s</param>", "<param name=\"accept-timeout\">2s</param>")]),
            named: "variant1.xml")
        // Nearest first: alice 110 m, dave 330 m, bob 1.1 km.
        try await cluster.register("alice", application: Self.variant1, location: "52.5209,13.4055")
        try await cluster.register("dave", application: Self.variant1, location: "52.5230,13.4060")
        try await cluster.register("bob", application: Self.variant1, location: "52.5290,13.4130")
        try await cluster.waitForSupporters(3, withAvailability: 3, application: Self.variant1, watchers: ["alice", "dave", "bob"])
        // Both tails run while it happens: the notifier's steps, and dave's inbox.
        let steps = try cluster.follow("notifier", ["alarms", "--follow"])
        let inbox = try cluster.follow("dave", ["alarm", "inbox", "--follow"])

        try await cluster.report("smoke-kitchen", value: 0.8, application: Self.variant1)
        try await cluster.report("smoke-hall", value: 0.7, application: Self.variant1)
        let alarm = try #require(try await cluster.acceptedAlarms().first)
        #expect(alarm.acceptedBy == (try cluster.addressOfRecord("bob")))
        #expect(steps.output.text.hasPrefix("no alarms on this node\n"), "\(steps.output.text)")
        let tailed = try await pollUntil(within: .seconds(10)) {
            ["\(alarm.id) raised", "\(alarm.id) escalated from alice: declined", "\(alarm.id) escalated from dave: no-answer", "\(alarm.id) accepted by bob"]
                .allSatisfy { steps.output.text.contains($0) }
        }
        #expect(tailed, "smf alarms --follow printed:\n\(steps.output.text)")
        #expect(inbox.output.text.contains("\(alarm.id) critical fire in house-12"), "smf alarm inbox --follow printed:\n\(inbox.output.text)")
        #expect(steps.process.isRunning && inbox.process.isRunning, "both follow until stopped")
        let shown = try await cluster.show(alarm.id)
        let order = ["escalated from alice: declined", "contacted dave", "escalated from dave: no-answer", "contacted bob", "accepted by bob"]
        let positions = order.map { shown.range(of: $0)?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil }, "\(shown)")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted(), "steps out of order:\n\(shown)")
        // dave's node has the alarm, unanswered.
        let dave = try #require(try await cluster.inbox("dave").first)
        #expect(dave.id == alarm.id)
        #expect(dave.answer == nil)
    }

    @Test func anAlarmToAPlainPhoneGoesAsAMessageAndIsAcceptedByItsReply() async throws {
        let cluster = try await SurveillanceCluster(SurveillanceCluster.serviceNodes + [SurveillanceCluster.Spec(name: "carol")], community: true)
        defer { cluster.cleanUp() }
        try await cluster.formCommunity()
        try await cluster.deploy(try SurveillanceCluster.composition("variant1.xml"), named: "variant1.xml")
        // The phone answers to the notifier instance (its current contact), outside the community.
        let notifier = try cluster.instanceURI(application: Self.variant1, service: "notifier", on: "notifier")
        let phone = try await Baresip(user: "carol-phone", contacts: [BaresipContact(name: "notifier", uri: notifier)], currentContact: notifier)
        defer { phone.stop() }
        try await cluster.register("carol", application: Self.variant1, location: "52.5240,13.4060", phone: ["--phone", "sip-phone", "--contact", phone.localURI])
        try await cluster.waitForSupporters(1, withAvailability: 1, application: Self.variant1, watchers: [])

        let mark = phone.mark
        try await cluster.report("smoke-kitchen", value: 0.8, application: Self.variant1)
        try await cluster.report("smoke-hall", value: 0.7, application: Self.variant1)
        let line = try await phone.waitForOutput(containing: "ALARM house-12-fire-", after: mark, timeout: .seconds(30))
        let id = try #require(line.split(separator: " ").first { $0.hasPrefix("house-12-fire-") }.map { String($0.trimmingCharacters(in: CharacterSet(charactersIn: ":\""))) })
        #expect(line.contains("Reply \"ok \(id)\" to accept"), "\(line)")
        try phone.command("/message ok \(id)")
        let alarm = try #require(try await cluster.acceptedAlarms().first)
        #expect(alarm.id == id)
        #expect(alarm.acceptedBy == (try cluster.addressOfRecord("carol")))
        #expect(alarm.told == ["\(try cluster.addressOfRecord("carol")) MESSAGE"])
    }

    @Test func anAlarmStillReachesASupporterWhenTheSelectorsNodeIsKilledMidAlarm() async throws {
        let cluster = try await SurveillanceCluster(
            SurveillanceCluster.serviceNodes + [
                SurveillanceCluster.Spec(name: "selector2", offers: ["supporter-selector"]), SurveillanceCluster.supporter("bob", answers: "accept"),
            ],
            community: false)
        defer { cluster.cleanUp() }
        let view = try await cluster.deploy(try SurveillanceCluster.composition("variant1.xml"), named: "variant1.xml")
        try await cluster.register("bob", application: Self.variant1, location: "52.5290,13.4130")
        try await cluster.waitForSupporters(1, withAvailability: 1, application: Self.variant1, watchers: ["bob"])
        let first = try #require(view.services.first { $0.id == "selector" }?.host)
        let (doomed, survivor) = first.contains(":\(try cluster["selector"].port)") ? ("selector", "selector2") : ("selector2", "selector")

        // The first reading is taken; the selector's node dies; the second raises the alarm while it is gone.
        try await cluster.report("smoke-kitchen", value: 0.8, application: Self.variant1)
        try await cluster[doomed].stop(with: SIGKILL)
        try await cluster.report("smoke-hall", value: 0.7, application: Self.variant1)
        let alarm = try #require(try await cluster.acceptedAlarms(within: .seconds(90)).first)
        #expect(alarm.acceptedBy == (try cluster.addressOfRecord("bob")))
        let after = try #require(try await ServiceDeployProcessTests.show(try cluster["house-12"], Self.variant1))
        #expect(after.revision >= 2)
        #expect(after.services.first { $0.id == "selector" }?.host.contains(":\(try cluster[survivor].port)") == true)
        #expect(after.notices.contains { $0.text.contains("service selector is down") && $0.text.contains("moved to") }, "\(after.notices)")
        let shown = try await cluster.show(alarm.id)
        let selectorHop = try #require(shown.split(separator: "\n").first { $0.contains("selector (supporter-selector)") && $0.contains("received on alarms") })
        #expect(selectorHop.contains(try cluster.addressOfRecord(survivor)), "\(shown)")
    }

    @Test func everyAlarmIsDeliveredWithATenthOfTheUDPDatagramsLost() async throws {
        let cluster = try await SurveillanceCluster(
            SurveillanceCluster.serviceNodes + [SurveillanceCluster.supporter("bob", answers: "accept")], community: false,
            everyNode: ["--inject-udp-loss", "0.1"])
        defer { cluster.cleanUp() }
        // Every building's readings go on to the evaluator (the shipped file forwards house 12's only).
        try await cluster.deploy(try SurveillanceCluster.composition("variant1.xml", [(Self.forwardHouse12, Self.forwardAll)]), named: "variant1.xml")
        try await cluster.register("bob", application: Self.variant1, location: "52.5290,13.4130")
        try await cluster.waitForSupporters(1, withAvailability: 1, application: Self.variant1, watchers: ["bob"])
        let buildings = (1...10).map { "house-\(100 + $0)" }
        for building in buildings {
            try await cluster.report("smoke-kitchen", value: 0.8, building: building, application: Self.variant1)
            try await cluster.report("smoke-hall", value: 0.7, building: building, application: Self.variant1)
        }
        let alarms = try await cluster.acceptedAlarms(buildings.count, within: .seconds(120))
        #expect(Set(alarms.filter { $0.state == "accepted" }.map(\.building)) == Set(buildings))
        #expect(Set(try await cluster.inbox("bob").map(\.building)) == Set(buildings))
        // The loss was real: every node of the path dropped datagrams (each retransmitted, RFC 3261 §17.1.2.2).
        for name in ["house-12", "forwarder", "evaluator", "selector", "notifier", "bob"] {
            let status = try JSONDecoder().decode(NodeStatus.self, from: Data(try await cluster[name].succeed(["status", "--json"]).utf8))
            #expect((status.injectedUDPDrops ?? 0) > 0, "\(name) dropped nothing")
        }
    }

    @Test func aBurstOfTwentyThousandReadingsIsStoredWithoutLosingOne() async throws {
        let cluster = try await SurveillanceCluster(SurveillanceCluster.serviceNodes + [SurveillanceCluster.Spec(name: "gateway")], community: false)
        defer { cluster.cleanUp() }
        try await cluster.deploy(try SurveillanceCluster.composition("variant1.xml"), named: "variant1.xml")
        let output = try await cluster["gateway"].succeed(
            ["sensor", "report", "--app", Self.variant1, "--id", "temperature-burst", "--building", "house-20", "--value", "21.5", "--count", "20000",
             "--window", "64"], timeout: .seconds(300))
        #expect(output.contains("20000 readings sent to sip:\(Self.variant1).recorder@"), "\(output)")
        #expect(output.contains(": 20000 accepted"), "\(output)")
        // Counted in the recorder's store: one row per reading.
        let sqlite = try requireTool("sqlite3")
        let database = try cluster["house-12"].dataDirectory.appendingPathComponent("smf.sqlite").path
        let count = try await runTool(sqlite, [database, "SELECT count(*) FROM sensor_readings WHERE building = 'house-20'"])
        #expect(count.output.trimmingCharacters(in: .whitespacesAndNewlines) == "20000", "\(count.output)")
    }

    @Test func makeDemoRunsBuildingSurveillanceOnNineOrMoreNodesAndEndsWithAnAcceptedAlarm() async throws {
        let result = try await runTool(smfBinary(), ["demo"], timeout: .seconds(120))
        #expect(result.status == 0, "output:\n\(result.output)")
        let lines = result.output.split(separator: "\n").map(String.init)
        let nodeLines = lines.filter { line in
            let words = line.split(separator: " ")
            return line.hasPrefix("  ") && words.count > 2 && words[1].hasPrefix("sip:") && words[1].contains("@127.0.0.1:")
        }
        #expect(nodeLines.count >= 9, "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("community north-street: \(nodeLines.count) members; sub-community surveillance/north-street: \(nodeLines.count) members") })
        #expect(lines.contains { $0.hasPrefix("deployed building-surveillance (revision 1): 9 services on 7 nodes, all 8 wires active") })
        #expect(lines.contains { $0.hasPrefix("smoke: smoke-kitchen 0.8 and smoke-hall 0.7 in house-12") })
        #expect(lines.contains { $0.hasPrefix("path (ms since the reading reached the first service") })
        for service in ["recorder (sensor-recorder)", "forwarder (sensor-forwarder)", "evaluator (event-evaluator)", "selector (supporter-selector)", "notifier (supporter-notifier)"] {
            #expect(lines.contains { $0.contains(service) }, "no hop of \(service)")
        }
        #expect(lines.contains { $0.contains("declined by alice") })
        #expect(lines.contains("who was told:"))
        #expect(lines.contains { $0.hasPrefix("demo ok: alarm house-12-fire-") && $0.contains(" accepted by sip:") })
        // Nothing is left behind: the data directory is gone.
        let base = try #require(lines.first?.components(separatedBy: "data in ").last)
        #expect(!FileManager.default.fileExists(atPath: base))
    }
}
