import Composition
import Foundation
import Overlay
import SIPEndpoint
import SIPEvents
import SIPSyntax
import Testing

@testable import ServicePlatform

/// Several runtimes in one process, each on its own loopback UDP/TCP port, with the overlay's records in a shared
/// in-memory directory.
@Suite(.serialized) struct ServiceRuntimeTests {
    /// alice deploys (and runs the source), bob offers the relay, carol runs the sink.
    func threeNodes(sink: SinkLog, directory: ServiceMemoryDirectory = ServiceMemoryDirectory()) async throws -> (RuntimeNode, RuntimeNode, RuntimeNode) {
        let alice = try await RuntimeNode.start("alice", directory: directory)
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"])
        let carol = try await RuntimeNode.start("carol", directory: directory, sink: sink)
        // Each publishes its node record (and bob its provider record) when it starts.
        #expect(try await eventually { try await directory.get(kind: .service, name: ServiceRecordNames.providers(testScope, type: "probe-relay")).count == 1 })
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        return (alice, bob, carol)
    }

    @Test func aThreeServiceCompositionDeployedOnThreeNodesCarriesEveryValueEndToEnd() async throws {
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }

        let report = try await alice.runtime.deploy(composition: chainComposition(count: 40), fileName: "chain.xml")
        #expect(report.revision == 1)
        #expect(Dictionary(uniqueKeysWithValues: report.services.map { ($0.id, $0.host) }) == ["src": alice.aor, "mid": bob.aor, "sink": carol.aor])

        #expect(await sink.waitForAll(40))
        #expect(sink.numbers == Array(1...40))  // in order, each once
        let settled = await eventually {
            guard let view = await alice.runtime.application(named: "chain") else { return false }
            return view.allWiresActive && view.wires.allSatisfy { $0.acknowledged == 40 && $0.pending == 0 }
        }
        #expect(settled)
        let view = try #require(await alice.runtime.application(named: "chain"))
        #expect(view.services.map(\.state) == ["running", "running", "running"])
        #expect(view.services.first { $0.id == "src" }?.summary == "emitted 40 values")
        // The host's own view of its part.
        let bobView = try #require(await bob.runtime.application(named: "chain"))
        #expect(bobView.role == "host")
        #expect(bobView.services.map(\.id) == ["mid"])
    }

    @Test func aRelayAcknowledgesOnlyOnceItsConsumerHasAcknowledged() async throws {
        let sink = SinkLog()
        sink.refuse(true)
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }

        _ = try await alice.runtime.deploy(composition: chainComposition(count: 5), fileName: "chain.xml")
        // The sink refuses: the relay cannot acknowledge, so the source keeps all five.
        #expect(await eventually { await alice.runtime.application(named: "chain")?.wires.first { $0.id == "w1" }?.pending == 5 })
        try await Task.sleep(for: .seconds(3))  // longer than the relay timeout: it answers 500 and the source retries
        let waiting = try #require(await alice.runtime.application(named: "chain")?.wires.first { $0.id == "w1" })
        #expect(waiting.acknowledged == 0)
        #expect(waiting.pending == 5)
        #expect(sink.numbers.isEmpty)

        sink.refuse(false)
        #expect(await sink.waitForAll(5))
        #expect(await eventually { await alice.runtime.application(named: "chain")?.wires.first { $0.id == "w1" }?.acknowledged == 5 })
        #expect(sink.numbers == [1, 2, 3, 4, 5])
    }

    @Test func whenTheRelaysNodeDiesAnotherProviderTakesOverAndNothingAcknowledgedIsLost() async throws {
        let directory = ServiceMemoryDirectory()
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink, directory: directory)
        let dave = try await RuntimeNode.start("dave", directory: directory, offers: ["probe-relay"])
        defer { Task { for node in [alice, carol, dave] { await node.stop() } } }
        #expect(try await eventually { try await directory.get(kind: .service, name: ServiceRecordNames.providers(testScope, type: "probe-relay")).count == 2 })

        let report = try await alice.runtime.deploy(composition: chainComposition(count: 150, interval: "10ms"), fileName: "chain.xml")
        let first = try #require(report.services.first { $0.id == "mid" }?.host)
        let (dying, survivor) = first == bob.aor ? (bob, dave) : (dave, bob)
        #expect(await eventually { sink.numbers.count >= 30 })
        await dying.crash()

        try await expectRelayMoved(in: alice, to: survivor, sink: sink, count: 150)
        if dying.name == "bob" { await dave.stop() } else { await bob.stop() }
    }

    @Test func afterEveryNodeRestartsTheApplicationIsRestoredAndValuesFlowAgain() async throws {
        let directory = ServiceMemoryDirectory()
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink, directory: directory)
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 100_000, interval: "30ms"), fileName: "chain.xml")
        #expect(await eventually { sink.numbers.count >= 10 })
        for node in [alice, bob, carol] { await node.stop() }
        let before = sink.numbers.max() ?? 0

        let carol2 = try await carol.restart(directory: directory, sink: sink)
        let bob2 = try await bob.restart(directory: directory, offers: ["probe-relay"], sink: SinkLog())
        let alice2 = try await alice.restart(directory: directory, sink: SinkLog())
        defer { Task { for node in [alice2, bob2, carol2] { await node.stop() } } }

        #expect(await eventually(timeout: .seconds(30)) { (sink.numbers.max() ?? 0) >= before + 20 })
        let numbers = sink.numbers
        #expect(Set(numbers).count == numbers.count, "a value arrived twice")
        #expect(Set(numbers) == Set(1...(numbers.max() ?? 0)), "a value is missing")
        #expect(await eventually { await alice2.runtime.application(named: "chain")?.allWiresActive == true })
    }

    @Test func anInvalidCompositionIsReportedWithItsLinesAndNothingIsDeployed() async throws {
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        let broken = chainComposition(count: 1).replacingOccurrences(of: "to=\"sink.values\"", with: "to=\"sink.nope\"")
        do {
            _ = try await alice.runtime.deploy(composition: broken, fileName: "broken.xml")
            Issue.record("an invalid composition was deployed")
        } catch {
            #expect(error.diagnostics.contains { $0.description.hasPrefix("broken.xml:") && $0.message.contains("nope") })
        }
        #expect(try alice.store.deployedApplications().isEmpty)
        #expect(try bob.store.hostedApplications().isEmpty)

        let unplaceable = chainComposition(count: 1).replacingOccurrences(of: "peer:carol", with: "peer:nobody")
        do {
            _ = try await alice.runtime.deploy(composition: unplaceable, fileName: "u.xml")
            Issue.record("a composition with an unknown peer was deployed")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.contains("u.xml:") == true)
            #expect(error.problems.first?.contains("no node named nobody") == true)
        }
        #expect(try bob.store.hostedApplications().isEmpty)
    }

    @Test func aProducerAcceptsOnlyTheConsumerItsPlacementNames() async throws {
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 3), fileName: "chain.xml")
        #expect(await sink.waitForAll(3))

        // alice pretends to be the sink (right user, wrong node): 403.
        let target = ServiceAddressing.instanceURI(application: "chain", service: "mid", host: bob.uri)
        let handle = try await alice.endpoint.subscribe(
            to: target, subscriber: ServiceAddressing.instanceURI(application: "chain", service: "sink", host: alice.uri),
            event: SIPEventHeader(package: "m2m-probe", id: "w2"), handler: { _, _ in nil })
        var ending: SIPSubscriptionUpdate?
        for await update in handle.updates {
            ending = update
            break
        }
        #expect(ending == .terminated(.refused(statusCode: 403)))

        // A wire the relay does not produce: 404.
        let other = try await alice.endpoint.subscribe(
            to: target, subscriber: ServiceAddressing.instanceURI(application: "chain", service: "sink", host: carol.uri),
            event: SIPEventHeader(package: "m2m-probe", id: "w1"), handler: { _, _ in nil })
        for await update in other.updates {
            ending = update
            break
        }
        #expect(ending == .terminated(.refused(statusCode: 404)))
    }

    @Test func aDirectRequestReachesTheInstanceAndIsAnsweredWithItsAnswer() async throws {
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 1), fileName: "chain.xml")
        #expect(await sink.waitForAll(1))

        let target = ServiceAddressing.instanceURI(application: "chain", service: "sink", host: carol.uri)
        let result = try await alice.endpoint.sendMessage(to: target, body: "hello")
        #expect(result == .delivered(statusCode: 202))
        #expect(sink.directs == ["MESSAGE hello"])
        // The relay takes no direct requests.
        let refused = try await alice.endpoint.sendMessage(to: ServiceAddressing.instanceURI(application: "chain", service: "mid", host: bob.uri), body: "x")
        #expect(refused == .rejected(statusCode: 405, reason: "Method Not Allowed"))
    }

    /// Membership that refuses every request from one node.
    struct RefusingMembership: ServiceMembership {
        let refusedPort: Int
        func scopes() async -> [ServiceScope] { [testScope] }
        func authorize(_ request: SIPRequest, in scope: ServiceScope) async -> ServiceDirectAnswer? {
            request.headers.from?.uri.port == refusedPort ? ServiceDirectAnswer(statusCode: 403, reason: "Not A Member Of \(scope)") : nil
        }
    }

    @Test func aHostAsksMembershipBeforeItCommitsAPartAndADeployerItRefusesDeploysNothing() async throws {
        let directory = ServiceMemoryDirectory()
        let alice = try await RuntimeNode.start("alice", directory: directory)
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"])
        let carol = try await RuntimeNode.start("carol", directory: directory, membership: RefusingMembership(refusedPort: alice.port))
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        #expect(try await eventually { try await directory.get(kind: .service, name: ServiceRecordNames.providers(testScope, type: "probe-relay")).count == 1 })
        do {
            _ = try await alice.runtime.deploy(composition: chainComposition(count: 1), fileName: "chain.xml")
            Issue.record("carol took a part from a deployer its membership refuses")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.contains("service sink (probe-sink) on \(carol.aor) failed: 403 Not A Member Of test/lab") == true)
        }
        #expect(try carol.store.hostedApplications().isEmpty)
        // The hosts that had accepted their part dropped it again.
        #expect(try await eventually { try bob.store.hostedApplications().isEmpty && alice.store.hostedApplications().isEmpty })
        #expect(try alice.store.deployedApplications().isEmpty)
    }

    @Test func aHostRefusesAPartItsComponentCannotBeConfiguredForAndNothingIsDeployed() async throws {
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        // The composition is valid (count is an integer), but the probe source cannot count to -1.
        let composition = chainComposition(count: 1).replacingOccurrences(of: "<param name=\"count\">1</param>", with: "<param name=\"count\">-1</param>")
        #expect(composition.contains("<param name=\"count\">-1</param>"))
        #expect(CompositionLoader().load(bytes: Array(composition.utf8), fileName: "chain.xml").isValid)
        do {
            _ = try await alice.runtime.deploy(composition: composition, fileName: "chain.xml")
            Issue.record("a host committed a part its component cannot be made for")
        } catch {
            #expect(error.problems.count == 1)
            #expect(
                error.problems.first?.contains(
                    "service src (probe-source) on \(alice.aor) failed: 488 Invalid Configuration: service src: count '-1' is not a whole number ≥ 0") == true,
                "\(error.problems)")
        }
        // The hosts that had accepted their part dropped it again; nothing was started.
        #expect(try await eventually { try bob.store.hostedApplications().isEmpty && carol.store.hostedApplications().isEmpty })
        #expect(try alice.store.hostedApplications().isEmpty)
        #expect(try alice.store.deployedApplications().isEmpty)
        #expect(sink.numbers.isEmpty)
    }

    @Test func undeployStopsEveryInstanceEndsTheWiresAndDeletesWhatWasKept() async throws {
        let sink = SinkLog()
        let (alice, bob, carol) = try await threeNodes(sink: sink)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 5), fileName: "chain.xml")
        #expect(await sink.waitForAll(5))
        #expect(try carol.store.instanceData(application: "chain", service: "sink") == nil)  // the test sink keeps nothing
        #expect(try alice.store.instanceData(application: "chain", service: "src") != nil)

        let report = try await alice.runtime.undeploy("chain")
        #expect(report.failures.isEmpty)
        #expect(Set(report.removedFrom) == [alice.aor, bob.aor, carol.aor])
        for node in [alice, bob, carol] {
            #expect(try node.store.hostedApplications().isEmpty)
            #expect(await node.runtime.application(named: "chain") == nil)
        }
        #expect(try alice.store.deployedApplications().isEmpty)
        #expect(try alice.store.instanceData(application: "chain", service: "src") == nil)
        // The wires' subscriptions end on both sides.
        for node in [alice, bob, carol] {
            #expect(await eventually { await node.endpoint.subscriptions().allSatisfy { !$0.event.hasPrefix("m2m-probe") } })
        }
        await #expect(throws: ServicePlatformError.self) { try await alice.runtime.undeploy("chain") }
    }
}

/// A state port: each wire's consumer gets the producer's whole state, filtered for the wire, when it subscribes and
/// whenever it changes.
@Suite(.serialized) struct ServiceRuntimeStateTests {
    static let catalog: ServiceTypeCatalog = {
        var catalog = ServiceTypeCatalog.builtIn
        catalog.register(
            ServiceTypeDescriptor(
                name: "roster-source", summary: "test",
                outputs: [PortDescriptor("roster", package: "test-roster", value: "roster", filters: ["building"], delivery: .state, "who")]))
        catalog.register(
            ServiceTypeDescriptor(
                name: "roster-sink", summary: "test",
                inputs: [PortDescriptor("roster", package: "test-roster", value: "roster", required: true, delivery: .state, "who")]))
        return catalog
    }()

    /// Keeps the source's context so the test can set its state, and what the sink received.
    final class Roster: Sendable {
        let context = Locked<(any ServiceContext)?>(nil)
        let states = Locked<[[String]]>([])
    }

    struct SourceFactory: ServiceComponentFactory {
        let typeName = "roster-source"
        let durability = ServiceDurability.durable
        let roster: Roster
        func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { Source(roster: roster) }
    }

    struct Source: ServiceComponent {
        let roster: Roster
        func start(context: any ServiceContext) async throws { roster.context.withLock { $0 = context } }
        func receive(_ input: ServiceInput, context: any ServiceContext) async throws {}
        func stop() async {}
    }

    struct SinkFactory: ServiceComponentFactory {
        let typeName = "roster-sink"
        let durability = ServiceDurability.durable
        let roster: Roster
        func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { Sink(roster: roster) }
    }

    struct Sink: ServiceComponent {
        let roster: Roster
        func start(context: any ServiceContext) async throws {}
        func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
            guard case .state(_, _, let values) = input else { return }
            roster.states.withLock { $0.append(values.map(\.id)) }
        }
        func stop() async {}
    }

    @Test func aComponentReachesPartiesOutsideTheCompositionThroughItsContextsSIP() async throws {
        let directory = ServiceMemoryDirectory()
        let roster = Roster()
        let factories: [any ServiceComponentFactory] = [SourceFactory(roster: roster), SinkFactory(roster: roster)]
        let alice = try await RuntimeNode.start("alice", directory: directory, more: factories, catalog: Self.catalog)
        let carol = try await RuntimeNode.start("carol", directory: directory, more: factories, catalog: Self.catalog)
        defer { Task { await alice.stop(); await carol.stop() } }
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        _ = try await alice.runtime.deploy(composition: Self.rosterComposition, fileName: "who.xml")
        let context = try #require(await eventually { roster.context.current != nil } ? roster.context.current : nil)

        // A pager MESSAGE to carol's node (RFC 3428), and how it ended.
        let sent = await context.sip.sendMessage(to: carol.aor, contentType: "text/plain", body: Array("alarm at b1".utf8))
        #expect(sent == .delivered(statusCode: 200))
        let unreachable = await context.sip.sendMessage(to: "not a uri", contentType: "text/plain", body: [])
        #expect(unreachable == .failed(statusCode: nil, reason: "'not a uri' is not a SIP URI"))

        // A state the instance notifies for a resource of its own; an outside subscriber gets it.
        let resource = "sip:duty@127.0.0.1:\(alice.port)"
        try await context.sip.setState(package: "x-duty", resource: resource, contentType: "text/plain", body: Array("ann".utf8))
        let (updates, cancel) = await context.sip.subscribe(to: resource, package: "x-duty", contentType: "text/plain", body: [], expires: 600)
        var first: ServiceSubscriptionUpdate?
        for await update in updates {
            first = update
            break
        }
        #expect(first == .notification(contentType: "text/plain", body: Array("ann".utf8)))
        await cancel()
    }

    static let rosterComposition = """
        <composition xmlns="urn:smf:composition:1" name="who" community="test" subcommunity="lab">
          <services>
            <service id="src" type="roster-source" placement="local"/>
            <service id="dst" type="roster-sink" placement="peer:carol"/>
          </services>
          <wires>
            <wire id="b1" from="src.roster" to="dst.roster"><filter name="building" value="b1"/></wire>
          </wires>
        </composition>
        """

    @Test func theConsumerGetsTheWholeFilteredStateOnEveryChangeAndAgainWhenItSubscribesAnew() async throws {
        let directory = ServiceMemoryDirectory()
        let roster = Roster()
        let factories: [any ServiceComponentFactory] = [SourceFactory(roster: roster), SinkFactory(roster: roster)]
        let alice = try await RuntimeNode.start("alice", directory: directory, more: factories, catalog: Self.catalog)
        let carol = try await RuntimeNode.start("carol", directory: directory, more: factories, catalog: Self.catalog)
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        _ = try await alice.runtime.deploy(composition: Self.rosterComposition, fileName: "who.xml")
        #expect(await eventually { await alice.runtime.application(named: "who")?.allWiresActive == true })
        let context = try #require(roster.context.current)
        func entry(_ id: String, _ building: String) -> ServiceValue {
            ServiceValue(id: id, contentType: "text/plain", text: id, attributes: ["building": building])
        }
        try await context.setState([entry("ann", "b1"), entry("bea", "b2")], on: "roster")
        #expect(await eventually { roster.states.current.last == ["ann"] })
        try await context.setState([entry("ann", "b1"), entry("cid", "b1")], on: "roster")
        #expect(await eventually { roster.states.current.last == ["ann", "cid"] })
        await #expect(throws: ServicePlatformError.self) { try await context.emit(entry("x", "b1"), on: "roster") }

        await carol.stop()
        roster.states.withLock { $0 = [] }
        let carol2 = try await RuntimeNode.start(
            "carol", port: carol.port, directory: directory, more: factories, catalog: Self.catalog, store: carol.store, endpointStore: carol.endpointStore)
        defer { Task { await alice.stop(); await carol2.stop() } }
        #expect(await eventually { roster.states.current.last == ["ann", "cid"] })
    }
}

/// Relays in a loop: the wire that closes it is marked feedback, and no relay waits for its own answer.
@Suite(.serialized) struct ServiceRuntimeFeedbackTests {
    static let catalog: ServiceTypeCatalog = {
        var catalog = ServiceTypeCatalog.builtIn
        catalog.register(
            ServiceTypeDescriptor(
                name: "ping-relay", summary: "test",
                inputs: [PortDescriptor("in", package: "test-ping", value: "ping", required: true, "hops")],
                outputs: [PortDescriptor("out", package: "test-ping", value: "ping", "hops + 1")]))
        return catalog
    }()

    /// Every hop count each relay received, in order.
    final class Hops: Sendable {
        let received = Locked<[String: [Int]]>([:])
    }

    struct PingFactory: ServiceComponentFactory {
        let typeName = "ping-relay"
        let durability = ServiceDurability.relay
        let hops: Hops
        func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { Ping(hops: hops, id: instance.serviceID) }
    }

    /// `a` sends hop 0 when it starts; each relay passes a hop on, one higher, up to 20.
    struct Ping: ServiceComponent {
        let hops: Hops
        let id: String
        func start(context: any ServiceContext) async throws {
            if id == "a" { try await context.emit(ServiceValue(contentType: "text/plain", text: "0"), on: "out") }
        }
        func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
            guard case .value(_, _, let value) = input, let hop = Int(value.text) else { return }
            hops.received.withLock { $0[id, default: []].append(hop) }
            if hop < 20 { try await context.emit(ServiceValue(contentType: "text/plain", text: "\(hop + 1)"), on: "out") }
        }
        func stop() async {}
    }

    static let loop = """
        <composition xmlns="urn:smf:composition:1" name="loop" community="test" subcommunity="lab">
          <services>
            <service id="a" type="ping-relay" placement="local"/>
            <service id="b" type="ping-relay" placement="peer:carol"/>
          </services>
          <wires>
            <wire id="there" from="a.out" to="b.in"/>
            <wire id="back" from="b.out" to="a.in" feedback="true"/>
          </wires>
        </composition>
        """

    @Test func relaysInALoopPassEveryValueOnOnceWithoutWaitingForTheirOwnAnswer() async throws {
        let directory = ServiceMemoryDirectory()
        let hops = Hops()
        let alice = try await RuntimeNode.start("alice", directory: directory, more: [PingFactory(hops: hops)], catalog: Self.catalog)
        let carol = try await RuntimeNode.start("carol", directory: directory, more: [PingFactory(hops: hops)], catalog: Self.catalog)
        defer { Task { await alice.stop(); await carol.stop() } }
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        _ = try await alice.runtime.deploy(composition: Self.loop, fileName: "loop.xml")
        #expect(await eventually(timeout: .seconds(30)) { hops.received.current["b"]?.last == 20 })
        // Each hop reached its relay once: had b waited for a's answer around the loop (and a for b's), the NOTIFYs
        // would have timed out (2 s here) and come again, and the relays would have received hops again.
        #expect(hops.received.current["b"] == Array(stride(from: 0, through: 20, by: 2)))
        #expect(hops.received.current["a"] == Array(stride(from: 1, through: 19, by: 2)))
    }
}
