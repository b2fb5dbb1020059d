import Foundation
import ServicePlatform
import Testing

/// The Service Delivery Platform across real `smf run` processes on 127.0.0.1 (issue 6): deploy, values end to end,
/// the relay's provider killed, every node restarted, invalid files, undeploy.
@Suite(.serialized) struct ServiceDeployProcessTests {
    /// What a probe sink reports in `smf app show`: "received N values (highest H), M missing, R repeated".
    struct Tally: Equatable {
        var received: Int
        var highest: Int
        var missing: Int
        var repeated: Int

        init?(_ summary: String?) {
            guard let summary else { return nil }
            let numbers = summary.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard summary.hasPrefix("received "), numbers.count == 4 else { return nil }
            (received, highest, missing, repeated) = (numbers[0], numbers[1], numbers[2], numbers[3])
        }
    }

    /// `Services/probes/chain.xml` with the source's interval and count set.
    static func composition(count: Int, interval: String) throws -> String {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Services/probes/chain.xml"), encoding: .utf8)
        return text.replacingOccurrences(
            of: "<param name=\"interval\">200ms</param>", with: "<param name=\"interval\">\(interval)</param><param name=\"count\">\(count)</param>")
    }

    static func write(_ text: String, named name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smf-sdp-\(UUID().uuidString)-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// `smf app show NAME --json` on `node`, decoded; nil when it fails.
    static func show(_ node: OverlayProcess, _ name: String = "chain") async throws -> ServiceApplicationView? {
        let result = try await node.smf(["app", "show", name, "--json"])
        guard result.status == 0 else { return nil }
        return try? JSONDecoder().decode(ServiceApplicationView.self, from: Data(result.output.utf8))
    }

    static func sinkTally(_ node: OverlayProcess) async throws -> Tally? {
        Tally(try await show(node)?.services.first { $0.id == "sink" }?.summary)
    }

    static func start(
        _ user: String, port: Int? = nil, data: URL? = nil, bootstrap: [String], offers: [String] = [], area: String? = nil,
        extra: [String] = []
    ) async throws -> OverlayProcess {
        try await OverlayProcess(
            bootstrap: bootstrap, dataDirectory: data, port: port, stabilizeMs: 300, timeoutMs: 400,
            extraArguments: ["--user", user, "--scope", "test/lab"] + offers.flatMap { ["--offer", $0] } + (area.map { ["--area", $0] } ?? [])
                + extra)
    }

    /// Runs `smf deploy FILE` until it succeeds (the overlay needs a moment to hold every node's records).
    static func deploy(_ file: URL, on node: OverlayProcess, within limit: Duration = .seconds(45)) async throws -> ProcessResult {
        let deadline = ContinuousClock.now + limit
        var last = ProcessResult(status: -1, output: "")
        while ContinuousClock.now < deadline {
            last = try await node.smf(["deploy", file.path, "--timeout", "20"], timeout: .seconds(40))
            if last.status == 0 { return last }
            try await Task.sleep(for: .milliseconds(500))
        }
        return last
    }

    @Test func aChainOnThreeNodesSurvivesItsRelaysDeathAndARestartOfEveryNodeWithoutLosingAValue() async throws {
        let file = try Self.write(try Self.composition(count: 100_000, interval: "40ms"), named: "chain.xml")
        let alice = try await Self.start("alice", bootstrap: [])
        var nodes = [alice]
        defer { for node in nodes { node.cleanUp() } }
        let bob = try await Self.start("bob", bootstrap: [alice.address], offers: ["probe-relay"])
        nodes.append(bob)
        let carol = try await Self.start("carol", bootstrap: [alice.address])
        nodes.append(carol)
        let dave = try await Self.start("dave", bootstrap: [alice.address], offers: ["probe-relay"])
        nodes.append(dave)

        // Deploy: every service printed with its host, then the wires' wait.
        let deployed = try await Self.deploy(file, on: alice)
        #expect(deployed.status == 0, "smf deploy failed: \(deployed.output)")
        #expect(deployed.output.contains("deployed chain (revision 1) into test/lab"))
        #expect(deployed.output.contains("src      probe-source  local"))
        #expect(deployed.output.contains("sink     probe-sink    peer:carol  \(carol.addressOfRecord.replacingOccurrences(of: "smf@", with: "carol@"))"))
        #expect(deployed.output.contains("all 2 wires active after"))
        let view = try #require(try await Self.show(alice))
        let relayHost = try #require(view.services.first { $0.id == "mid" }?.host)
        let (relay, survivor) = relayHost.contains(":\(bob.port)") ? (bob, dave) : (dave, bob)
        #expect(relayHost.contains(":\(relay.port)"))

        // Values flow end to end.
        #expect(try await pollUntil(within: .seconds(30)) { (try await Self.sinkTally(alice))?.received ?? 0 >= 30 })

        // SIGKILL the relay's node mid-stream: the other provider takes over.
        let acknowledgedBefore = try #require(try await Self.show(alice)?.wires.first { $0.id == "w1" }?.acknowledged)
        try await relay.stop(with: SIGKILL)
        let tookOver = try await pollUntil(within: .seconds(45)) {
            guard let view = try await Self.show(alice), let tally = Tally(view.services.first { $0.id == "sink" }?.summary) else { return false }
            return view.revision == 2 && view.services.first { $0.id == "mid" }?.host.contains(":\(survivor.port)") == true
                && tally.highest >= Int(acknowledgedBefore) + 50
        }
        let viewAfterKill = try await Self.show(alice)
        #expect(tookOver, "no takeover: \(String(describing: viewAfterKill))")
        let afterKill = try #require(try await Self.sinkTally(alice))
        // Every value acknowledged to the source arrived (no gap up to the highest), and none twice.
        #expect(afterKill.missing == 0)
        #expect(afterKill.repeated == 0)
        #expect(afterKill.highest >= Int(acknowledgedBefore))
        let notices = try #require(try await Self.show(alice)?.notices.map(\.text))
        #expect(notices.contains { $0.contains("moved to") })

        // Restart every node, the killed one too, on the same ports and data.
        let highestBeforeRestart = try #require(try await Self.sinkTally(alice)).highest
        for node in [alice, carol, survivor] { try await node.stop(with: SIGTERM) }
        let alice2 = try await Self.start("alice", port: alice.port, data: alice.dataDirectory, bootstrap: [])
        nodes.append(alice2)
        let restarted = try await [
            (carol, "carol", [String]()), (survivor, survivor === bob ? "bob" : "dave", ["probe-relay"]), (relay, relay === bob ? "bob" : "dave", ["probe-relay"]),
        ].asyncMap { node, user, offers in
            try await Self.start(user, port: node.port, data: node.dataDirectory, bootstrap: [alice.address], offers: offers)
        }
        nodes += restarted
        let flowsAgain = try await pollUntil(within: .seconds(60)) {
            guard let view = try await Self.show(alice2), let tally = Tally(view.services.first { $0.id == "sink" }?.summary) else { return false }
            return view.allWiresActive && tally.highest >= highestBeforeRestart + 30
        }
        let viewAfterRestart = try await Self.show(alice2)
        #expect(flowsAgain, "not restored: \(String(describing: viewAfterRestart))")
        let afterRestart = try #require(try await Self.sinkTally(alice2))
        #expect(afterRestart.missing == 0)
        #expect(afterRestart.repeated == 0)
        // The node that was killed holds nothing of the application any more: it was told the current revision.
        let killedAgain = try #require(restarted.last)
        #expect(try await pollUntil(within: .seconds(20)) { try await killedAgain.smf(["apps"]).output.contains("no applications") })

        // Undeploy removes it everywhere.
        let undeployed = try await alice2.smf(["undeploy", "chain"])
        #expect(undeployed.status == 0, "\(undeployed.output)")
        for node in [alice2] + restarted {
            #expect(try await node.smf(["apps"]).output.contains("no applications"))
        }
    }

    @Test func aServicePlacedAnyWithWhereAreaLandsOnTheNodeInThatAreaAndAPeerElsewhereIsRefused() async throws {
        let constraint = "</wires>\n  <constraints>\n    <constraint service=\"mid\"><where area=\"south-street\"/></constraint>\n  </constraints>"
        let file = try Self.write(try Self.composition(count: 20, interval: "50ms").replacingOccurrences(of: "</wires>", with: constraint), named: "chain.xml")
        // An area travels as a line of overlay records: a name with a space is a usage error.
        let badArea = try await runTool(smfBinary(), ["run", "--data", "/tmp/smf-unused", "--area", "north street"], timeout: .seconds(20))
        #expect(badArea.status == 64)
        #expect(badArea.output.contains("--area 'north street' is not an area name (no spaces)"), "\(badArea.output)")

        let alice = try await Self.start("alice", bootstrap: [])
        var nodes = [alice]
        defer { for node in nodes { node.cleanUp() } }
        // bob would win without the constraint: as much room as dave, and his address (sip:bob@…) sorts first.
        let bob = try await Self.start("bob", bootstrap: [alice.address], offers: ["probe-relay"], area: "north-street")
        nodes.append(bob)
        let dave = try await Self.start("dave", bootstrap: [alice.address], offers: ["probe-relay"], area: "south-street")
        nodes.append(dave)
        let carol = try await Self.start("carol", bootstrap: [alice.address])
        nodes.append(carol)

        let deployed = try await Self.deploy(file, on: alice)
        #expect(deployed.status == 0, "smf deploy failed: \(deployed.output)")
        #expect(deployed.output.contains("mid      probe-relay   any         sip:dave@127.0.0.1:\(dave.port)"), "\(deployed.output)")
        #expect(try await pollUntil(within: .seconds(30)) { (try await Self.sinkTally(alice))?.received ?? 0 >= 20 })
        let tally = try #require(try await Self.sinkTally(alice))
        #expect(tally.missing == 0 && tally.repeated == 0)
        #expect(try await bob.smf(["apps"]).output.contains("no applications"))

        // The sink is placed on carol, who declared no area: refused with the constraint's line, nothing deployed.
        let peerConstraint = "</wires>\n  <constraints>\n    <constraint service=\"sink\"><where area=\"north-street\"/></constraint>\n  </constraints>"
        let refusedFile = try Self.write(
            try Self.composition(count: 1, interval: "1s").replacingOccurrences(of: "name=\"chain\"", with: "name=\"elsewhere\"")
                .replacingOccurrences(of: "</wires>", with: peerConstraint), named: "elsewhere.xml")
        let refused = try await alice.smf(["deploy", refusedFile.path])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains(
                "\(refusedFile.path):12:1: error: service sink: placement peer:carol violates the constraint on line 19 (where area north-street): it names node carol (no area)"),
            "\(refused.output)")
        #expect(try await carol.smf(["app", "show", "elsewhere"]).status != 0)
        #expect(!(try await alice.smf(["apps"]).output.contains("elsewhere")))
    }

    @Test func aSinkOutsideItsTimeWindowWaitsInItsNodesTimeZoneAndGetsEveryValueOnceWhenItOpens() async throws {
        // carol reads windows in Asia/Kathmandu (+05:45, an offset no test machine has by accident): the sink's window
        // opens at a whole minute there, 25 to 85 s from now, and lasts half an hour.
        let zone = try #require(TimeZone(identifier: "Asia/Kathmandu"))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let opens = try #require(
            calendar.nextDate(after: Date().addingTimeInterval(25), matching: DateComponents(second: 0), matchingPolicy: .nextTime))
        let start = calendar.component(.hour, from: opens) * 60 + calendar.component(.minute, from: opens)
        func clock(_ minute: Int) -> String { String(format: "%02d:%02d", minute % 1440 / 60, minute % 60) }
        let window = "</wires>\n  <constraints>\n    <constraint service=\"sink\"><time-window from=\"\(clock(start))\" to=\"\(clock(start + 30))\"/></constraint>\n  </constraints>"
        let file = try Self.write(try Self.composition(count: 10, interval: "100ms").replacingOccurrences(of: "</wires>", with: window), named: "chain.xml")
        let badZone = try await runTool(smfBinary(), ["run", "--data", "/tmp/smf-unused", "--time-zone", "Mars/Olympus"], timeout: .seconds(20))
        #expect(badZone.status == 64)
        #expect(badZone.output.contains("--time-zone 'Mars/Olympus' is not a time zone identifier"), "\(badZone.output)")

        let alice = try await Self.start("alice", bootstrap: [], offers: ["probe-relay"])
        var nodes = [alice]
        defer { for node in nodes { node.cleanUp() } }
        let carol = try await Self.start("carol", bootstrap: [alice.address], extra: ["--time-zone", "Asia/Kathmandu"])
        nodes.append(carol)

        let deployed = try await Self.deploy(file, on: alice)
        #expect(deployed.status == 0, "smf deploy failed: \(deployed.output)")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let waiting = "waiting: outside its time window until \(formatter.string(from: opens)) +05:45"
        let sawWaiting = try await pollUntil(within: .seconds(15)) { try await Self.show(alice)?.services.first { $0.id == "sink" }?.state == waiting }
        let services = try await Self.show(alice)?.services.map { "\($0.id): \($0.state)" } ?? []
        #expect(sawWaiting, "\(services)")
        // Nothing reaches the waiting sink, so the relay acknowledges nothing either: the ten values wait upstream.
        #expect(try await pollUntil(within: .seconds(10)) { try await Self.show(alice)?.wires.first { $0.id == "w2" }?.pending == 10 })
        #expect(try await Self.show(alice)?.wires.first { $0.id == "w2" }?.acknowledged == 0)

        // When the window opens in Kathmandu, carol starts the sink and every value arrives once.
        let limit = Duration.seconds(Int(opens.timeIntervalSinceNow.rounded(.up)) + 30)
        #expect(try await pollUntil(within: limit, every: .milliseconds(500)) { (try await Self.sinkTally(alice))?.received ?? 0 >= 10 })
        #expect(Date() >= opens)
        let tally = try #require(try await Self.sinkTally(alice))
        #expect(tally == Tally("received 10 values (highest 10), 0 missing, 0 repeated"))
        #expect(try await Self.show(alice)?.services.first { $0.id == "sink" }?.state == "running")
    }

    @Test func invalidFilesAreReportedWithTheirLinesAndNothingIsDeployed() async throws {
        let alice = try await Self.start("alice", bootstrap: [])
        defer { alice.cleanUp() }
        let schemaInvalid = try Self.write(
            """
            <composition xmlns="urn:smf:composition:1" name="bad" community="test" subcommunity="lab">
              <services>
                <service id="src" type="probe-source" placement="somewhere"/>
              </services>
            </composition>
            """, named: "schema.xml")
        let semanticallyInvalid = try Self.write(
            """
            <composition xmlns="urn:smf:composition:1" name="bad" community="test" subcommunity="lab">
              <services>
                <service id="src" type="probe-source" placement="local"/>
                <service id="sink" type="probe-sink" placement="local"/>
              </services>
              <wires>
                <wire from="src.values" to="sink.nothing"/>
              </wires>
            </composition>
            """, named: "semantic.xml")
        for (file, line) in [(schemaInvalid, 3), (semanticallyInvalid, 7)] {
            let result = try await alice.smf(["deploy", file.path])
            #expect(result.status == 1)
            #expect(result.output.contains("\(file.path):\(line):"), "\(result.output)")
            #expect(result.output.contains(": error: "))
        }
        // A valid file whose placement cannot be resolved names the service and exits 1 too.
        let unknownPeer = try Self.write(try Self.composition(count: 1, interval: "1s").replacingOccurrences(of: "peer:carol", with: "peer:nobody"), named: "peer.xml")
        let result = try await alice.smf(["deploy", unknownPeer.path])
        #expect(result.status == 1)
        #expect(result.output.contains("\(unknownPeer.path):"))
        #expect(result.output.contains("no node named nobody"))
        #expect(try await alice.smf(["apps"]).output.contains("no applications"))
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
