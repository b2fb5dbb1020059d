import Composition
import Foundation
import Overlay
import Testing

@testable import ServicePlatform

/// A composition's `<where>` and `<time-window>` constraints at run time (docs/services.md "Constraints"), with
/// several runtimes over real loopback like ``ServiceRuntimeTests``.
@Suite(.serialized) struct ServiceRuntimeConstraintsTests {
    /// The probe chain with `constraint` (one `<constraint>` element) added after its wires.
    func constrainedChain(count: Int, interval: String = "20ms", _ constraint: String) -> String {
        chainComposition(count: count, interval: interval)
            .replacingOccurrences(of: "</wires>", with: "</wires>\n  <constraints>\n    \(constraint)\n  </constraints>")
    }

    /// The 1-based line of the first line of `text` containing `needle`.
    func line(of needle: String, in text: String) -> Int {
        (text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) } ?? -1) + 1
    }

    func providers(_ directory: ServiceMemoryDirectory, _ count: Int) async throws -> Bool {
        try await eventually { try await directory.get(kind: .service, name: ServiceRecordNames.providers(testScope, type: "probe-relay")).count == count }
    }

    @Test func anyWithWhereAreaPicksTheProviderInThatAreaAndNotAnother() async throws {
        let directory = ServiceMemoryDirectory()
        let sink = SinkLog()
        let alice = try await RuntimeNode.start("alice", directory: directory)
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"], area: "north-street")
        let dave = try await RuntimeNode.start("dave", directory: directory, offers: ["probe-relay"], area: "south-street")
        let carol = try await RuntimeNode.start("carol", directory: directory, sink: sink)
        defer { Task { for node in [alice, bob, carol, dave] { await node.stop() } } }
        #expect(try await providers(directory, 2))
        // The area travels as the third line of the provider record and the second of the node record.
        let records = try await directory.get(kind: .service, name: ServiceRecordNames.providers(testScope, type: "probe-relay"))
        #expect(Set(records.map { String(decoding: $0.value, as: UTF8.self) }) == ["\(bob.aor)\n100\nnorth-street", "\(dave.aor)\n100\nsouth-street"])
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        let daveRecord = try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "dave"))
        #expect(daveRecord.map { String(decoding: $0.value, as: UTF8.self) } == ["\(dave.aor)\nsouth-street"])

        // Without the constraint bob would win: equal room, and his address sorts first.
        let south = try await alice.runtime.deploy(
            composition: constrainedChain(count: 10, #"<constraint service="mid"><where area="south-street"/></constraint>"#), fileName: "chain.xml")
        #expect(south.services.first { $0.id == "mid" }?.host == dave.aor)
        #expect(await sink.waitForAll(10))

        // The same with the other area: the relay moves to bob (a new revision), whichever has more room.
        let north = try await alice.runtime.deploy(
            composition: constrainedChain(count: 10, #"<constraint service="mid"><where area="north-street"/></constraint>"#), fileName: "chain.xml")
        #expect(north.revision == 2)
        #expect(north.services.first { $0.id == "mid" }?.host == bob.aor)
        // Nobody in the area: the deploy names the constraint and what it found.
        let east = constrainedChain(count: 10, #"<constraint service="mid"><where area="east-street"/></constraint>"#)
        do {
            _ = try await alice.runtime.deploy(composition: east, fileName: "east.xml")
            Issue.record("a relay was placed in an area no provider is in")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.contains("no live provider of type probe-relay") == true)
            #expect(error.problems.first?.contains("2 found in the overlay, 0 of them allowed by the constraint on line \(line(of: "<constraint ", in: east)) (where area east-street)") == true)
        }
    }

    @Test func aLocalOrPeerPlacementThatViolatesAWhereFailsTheDeployWithTheConstraintsLineAndDeploysNothing() async throws {
        let directory = ServiceMemoryDirectory()
        let alice = try await RuntimeNode.start("alice", directory: directory, area: "west-street")
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"], area: "north-street")
        let carol = try await RuntimeNode.start("carol", directory: directory)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        #expect(try await providers(directory, 1))
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })

        // The sink is placed on carol, who declared no area.
        let peer = constrainedChain(count: 1, #"<constraint service="sink"><where area="north-street"/></constraint>"#)
        do {
            _ = try await alice.runtime.deploy(composition: peer, fileName: "peer.xml")
            Issue.record("a sink was placed outside its area")
        } catch {
            #expect(
                error.problems == [
                    "peer.xml:\(line(of: "id=\"sink\"", in: peer)):1: error: service sink: placement peer:carol violates the constraint on line \(line(of: "<constraint ", in: peer)) (where area north-street): it names node carol (no area)"
                ])
        }
        // The source runs locally on alice, but every service must run on bob.
        let local = constrainedChain(count: 1, #"<constraint><where peer="bob"/></constraint>"#)
        do {
            _ = try await alice.runtime.deploy(composition: local, fileName: "local.xml")
            Issue.record("a source was placed on a node its constraint does not name")
        } catch {
            #expect(error.problems.count == 2)
            #expect(
                error.problems.first
                    == "local.xml:\(line(of: "id=\"src\"", in: local)):1: error: service src: placement local violates the constraint on line \(line(of: "<constraint>", in: local)) (where peer bob): it names node alice (area west-street)"
            )
            #expect(error.problems.last?.contains("service sink: placement peer:carol violates") == true)
        }
        #expect(try alice.store.deployedApplications().isEmpty)
        #expect(try bob.store.hostedApplications().isEmpty)
        #expect(try carol.store.hostedApplications().isEmpty)
        #expect(await alice.runtime.application(named: "chain") == nil)
    }

    @Test func aSinkOutsideItsTimeWindowWaitsItsValuesAreKeptAndArriveOnceWhenItOpens() async throws {
        // Monday 2025-06-23 07:00 UTC; the sink's window is 08:00–18:00 in the hosts' zone (UTC here).
        let clock = SteppedClock(start: .seconds(1_750_662_000))
        let utc = TimeZone(identifier: "UTC")!
        let configure: (inout ServiceRuntimeConfiguration) -> Void = {
            $0.timeZone = utc
            $0.availabilityCheckInterval = .milliseconds(500)
        }
        let directory = ServiceMemoryDirectory()
        let sink = SinkLog()
        let alice = try await RuntimeNode.start("alice", directory: directory, clock: clock.serviceClock, configure: configure)
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"], clock: clock.serviceClock, configure: configure)
        let carol = try await RuntimeNode.start("carol", directory: directory, sink: sink, clock: clock.serviceClock, configure: configure)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        #expect(try await providers(directory, 1))
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })

        _ = try await alice.runtime.deploy(
            composition: constrainedChain(count: 20, interval: "10ms", #"<constraint service="sink"><time-window from="08:00" to="18:00"/></constraint>"#),
            fileName: "chain.xml")
        let waiting = "waiting: outside its time window until 2025-06-23 08:00 +00:00"
        #expect(await eventually { await alice.runtime.application(named: "chain")?.services.first { $0.id == "sink" }?.state == waiting })
        // Every value reached the relay, which cannot acknowledge one: the sink refuses them (500) and none is lost.
        #expect(await eventually { await alice.runtime.application(named: "chain")?.wires.first { $0.id == "w2" }?.pending == 20 })
        try await Task.sleep(for: .seconds(3))  // longer than the relay timeout: the source keeps its values too
        let view = try #require(await alice.runtime.application(named: "chain"))
        #expect(view.wires.map(\.acknowledged) == [0, 0])
        #expect(view.wires.first { $0.id == "w1" }?.pending == 20)
        #expect(view.allWiresActive)  // a waiting service counts as ready: smf deploy returns
        #expect(sink.numbers.isEmpty)
        // Retry-After says when it opens, at most a minute.
        let key = ServiceRuntime.InstanceKey(application: "chain", service: "sink")
        let inAnHour = try #require(await carol.runtime.waiting[key])
        #expect(await carol.runtime.retryAfter(whileWaiting: inAnHour) == 60)
        clock.set(to: .seconds(1_750_665_570))  // 07:59:30
        #expect((29...30).contains(await carol.runtime.retryAfter(whileWaiting: inAnHour)))
        #expect(sink.numbers.isEmpty)

        clock.set(to: .seconds(1_750_665_600))  // 08:00: the window opens
        #expect(await sink.waitForAll(20))
        #expect(sink.numbers == Array(1...20))  // in order, each once
        #expect(await eventually { await alice.runtime.application(named: "chain")?.services.first { $0.id == "sink" }?.state == "running" })
        // Nothing is left to send. The source's 20 values are acknowledged; the relay's wire may count more than 20: a
        // value the relay took while the sink waited, sent again by the source after the sink had acknowledged it, goes
        // out once more under a new sequence number and the sink's runtime drops it as a duplicate (below).
        #expect(
            await eventually {
                guard let wires = await alice.runtime.application(named: "chain")?.wires else { return false }
                return wires.allSatisfy { $0.pending == 0 } && wires.first { $0.id == "w1" }?.acknowledged == 20
                    && (wires.first { $0.id == "w2" }?.acknowledged ?? 0) >= 20
            })
        #expect(sink.numbers == Array(1...20))

        clock.set(to: .seconds(1_750_701_601))  // 18:00:01: it stops and waits for the next day
        #expect(
            await eventually {
                await alice.runtime.application(named: "chain")?.services.first { $0.id == "sink" }?.state
                    == "waiting: outside its time window until 2025-06-24 08:00 +00:00"
            })
        // The host's own view says the same: its instance is gone.
        #expect(await carol.runtime.application(named: "chain")?.services.map(\.state) == ["waiting: outside its time window until 2025-06-24 08:00 +00:00"])
    }

    @Test func rePlacementAfterAHostDiesKeepsTheAreaConstraint() async throws {
        let directory = ServiceMemoryDirectory()
        let sink = SinkLog()
        let alice = try await RuntimeNode.start("alice", directory: directory)
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"], area: "north-street")
        let erin = try await RuntimeNode.start("erin", directory: directory, offers: ["probe-relay"], area: "north-street")
        let carol = try await RuntimeNode.start("carol", directory: directory, sink: sink)
        defer { Task { for node in [alice, carol] { await node.stop() } } }
        #expect(try await providers(directory, 2))
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })

        let report = try await alice.runtime.deploy(
            composition: constrainedChain(count: 150, interval: "10ms", #"<constraint service="mid"><where area="north-street"/></constraint>"#),
            fileName: "chain.xml")
        let first = try #require(report.services.first { $0.id == "mid" }?.host)
        let (dying, survivor) = first == bob.aor ? (bob, erin) : (erin, bob)
        #expect(first == dying.aor)
        // dave, in another area, has far more room: without the constraint the relay would move to him.
        let dave = try await RuntimeNode.start("dave", directory: directory, offers: ["probe-relay"], area: "south-street") { $0.capacity = 1_000 }
        defer { Task { await dave.stop() } }
        #expect(try await providers(directory, 3))
        #expect(await eventually { sink.numbers.count >= 30 })
        await dying.crash()

        // The relay stays in north-street: it moves to the other node there, not to dave.
        try await expectRelayMoved(in: alice, to: survivor, sink: sink, count: 150)
        await survivor.stop()
    }
}
