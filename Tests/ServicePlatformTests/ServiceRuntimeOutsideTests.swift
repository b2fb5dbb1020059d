import Composition
import Foundation
import Overlay
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import ServicePlatform

/// What the runtime adds for components that deal with parties outside the wires (building surveillance, issue 7):
/// hop traces, requests' Expires and SIP-If-Match, SUBSCRIBEs to an instance's own resources and to the node, phone
/// replies from outside the sub-community, and the application record members find services by.
@Suite(.serialized) struct ServiceRuntimeOutsideTests {
    /// What the test components saw.
    final class Seen: Sendable {
        let traces = Locked<[[ServiceHop]]>([])
        let requests = Locked<[ServiceDirectRequest]>([])
        let context = Locked<(any ServiceContext)?>(nil)
    }

    /// A `probe-sink` that keeps the trace of every value and every direct request.
    struct TracingSinkFactory: ServiceComponentFactory {
        let typeName = "probe-sink"
        let durability = ServiceDurability.durable
        let seen: Seen
        var resourcePackages: [String] { ["x-duty"] }
        func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { TracingSink(seen: seen) }
    }

    struct TracingSink: ServiceComponent {
        let seen: Seen
        func start(context: any ServiceContext) async throws { seen.context.withLock { $0 = context } }
        func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
            guard case .value(_, _, let value) = input else { return }
            seen.traces.withLock { $0.append(value.trace) }
        }
        func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
            seen.requests.withLock { $0.append(request) }
            return .ok
        }
        /// Plain-text MESSAGEs may come from outside; the rest must come from members.
        func admitsOutsider(_ request: ServiceDirectRequest) async -> Bool { request.contentType == "text/plain" }
        /// Its own resources `;who=<sender>` only, and only to their sender.
        func admitSubscription(_ request: ServiceDirectRequest, resource: String) async -> ServiceDirectAnswer? {
            resource.hasSuffix(";who=\(SIPURI(request.from)?.user ?? "-")") ? nil : ServiceDirectAnswer(statusCode: 403, reason: "Not Yours")
        }
        func stop() async {}
    }

    /// A `probe-relay` that also emits a probe value for each direct MESSAGE it takes.
    struct DirectRelayFactory: ServiceComponentFactory {
        let typeName = "probe-relay"
        let durability = ServiceDurability.relay
        func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { DirectRelay() }
    }

    struct DirectRelay: ServiceComponent {
        func start(context: any ServiceContext) async throws {}
        func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
            guard case .value(_, _, let value) = input else { return }
            try await context.emit(ServiceValue(contentType: value.contentType, body: value.body), on: "values")
        }
        func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
            let body = try? JSONEncoder().encode(ProbeValue(source: "direct", number: 1000))
            do {
                try await context.emit(ServiceValue(contentType: ProbeValue.contentType, body: Array(body ?? Data())), on: "values")
            } catch {
                return ServiceDirectAnswer(statusCode: 500, reason: "\(error)")
            }
            return .ok
        }
        func stop() async {}
    }

    /// Membership that refuses every request from one port (an outsider's).
    struct RefusingMembership: ServiceMembership {
        let refusedPort: Int
        func scopes() async -> [ServiceScope] { [testScope] }
        func authorize(_ request: SIPRequest, in scope: ServiceScope) async -> ServiceDirectAnswer? {
            request.headers.from?.uri.port == refusedPort ? ServiceDirectAnswer(statusCode: 403, reason: "Membership Proof Required") : nil
        }
    }

    /// alice deploys the chain (source on alice, relay on bob, sink on carol).
    func chain(seen: Seen, membership: (any ServiceMembership)? = nil) async throws -> (RuntimeNode, RuntimeNode, RuntimeNode, ServiceMemoryDirectory) {
        let directory = ServiceMemoryDirectory()
        let factories: [any ServiceComponentFactory] = [TracingSinkFactory(seen: seen), DirectRelayFactory()]
        let alice = try await RuntimeNode.start("alice", directory: directory, more: factories)
        let bob = try await RuntimeNode.start("bob", directory: directory, offers: ["probe-relay"], more: factories)
        let carol = try await RuntimeNode.start("carol", directory: directory, more: factories, membership: membership)
        #expect(try await eventually { try await directory.get(kind: .service, name: ServiceRecordNames.providers(testScope, type: "probe-relay")).count == 1 })
        #expect(try await eventually { try await directory.get(kind: .generic, name: ServiceRecordNames.node(community: "test", name: "carol")).count == 1 })
        return (alice, bob, carol, directory)
    }

    @Test func everyValueCarriesItsPathHopByHopWithNodeAndTime() async throws {
        let seen = Seen()
        let (alice, bob, carol, _) = try await chain(seen: seen)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 2), fileName: "chain.xml")
        #expect(await eventually { seen.traces.current.count >= 2 })
        let trace = try #require(seen.traces.current.first)
        #expect(trace.map(\.service) == ["src", "mid", "mid", "sink"])
        #expect(trace.map(\.action) == [.emitted, .received, .emitted, .received])
        #expect(trace.map(\.node) == [alice.aor, bob.aor, bob.aor, carol.aor])
        #expect(trace.map(\.port) == ["values", "values", "values", "values"])
        #expect(trace[1].detail == "by wire w1")
        #expect(trace[3].detail == "by wire w2")
        #expect(trace.map(\.type) == ["probe-source", "probe-relay", "probe-relay", "probe-sink"])
        #expect(trace.map(\.atNanoseconds) == trace.map(\.atNanoseconds).sorted(), "hops in time order")
    }

    @Test func aRequestToAnInstanceStartsTheTraceOfWhatItEmitsAndCarriesExpiresAndIfMatch() async throws {
        let seen = Seen()
        let (alice, bob, carol, _) = try await chain(seen: seen)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 1), fileName: "chain.xml")
        #expect(await eventually { seen.traces.current.count >= 1 })

        let relay = ServiceAddressing.instanceURI(application: "chain", service: "mid", host: bob.uri)
        let answer = try await alice.endpoint.sendMessage(to: relay, body: "go")
        #expect(answer == .delivered(statusCode: 200))
        #expect(await eventually { seen.traces.current.count >= 2 })
        let trace = try #require(seen.traces.current.last)
        #expect(trace.first?.action == .request)
        #expect(trace.first?.port == "MESSAGE")
        #expect(trace.first?.detail == "from \(alice.aor)")
        #expect(trace.map(\.service) == ["mid", "mid", "sink"])

        // A PUBLISH's Expires and SIP-If-Match reach the component.
        var publish = SIPPagerMessage.make(to: ServiceAddressing.instanceURI(application: "chain", service: "sink", host: carol.uri), from: alice.uri,
            body: SIPEventBody(contentType: "text/plain", text: "x"), using: &Self.generator)
        publish.method = .publish
        publish.headers.cseq = SIPCSeq(sequence: 1, method: .publish)
        publish.headers.add(name: "Event", value: "x-duty")
        publish.headers.expires = 0
        publish.headers.add(name: "SIP-If-Match", value: "etag-7")
        let response = try await alice.transport.send(publish, to: SIPDestination(transport: .udp, host: "127.0.0.1", port: carol.port))
        #expect(response.statusCode == 200)
        let request = try #require(seen.requests.current.last)
        #expect(request.method == "PUBLISH")
        #expect(request.expires == 0)
        #expect(request.ifMatch == "etag-7")
        #expect(request.fromMember)
    }

    nonisolated(unsafe) static var generator = SystemRandomNumberGenerator()

    @Test func onlyAComponentThatAdmitsOutsidersGetsTheirRequestsAndKnowsThemForOutsiders() async throws {
        let seen = Seen()
        let directory = ServiceMemoryDirectory()
        let phone = try await RuntimeNode.start("phone", directory: directory)
        defer { Task { await phone.stop() } }
        let (alice, bob, carol, _) = try await chain(seen: seen, membership: RefusingMembership(refusedPort: phone.port))
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 1), fileName: "chain.xml")
        #expect(await eventually { seen.context.current != nil })
        let sink = ServiceAddressing.instanceURI(application: "chain", service: "sink", host: carol.uri)

        // A plain-text reply from a non-member reaches the sink, marked as an outsider's.
        #expect(try await phone.endpoint.sendMessage(to: sink, body: "ok A-42") == .delivered(statusCode: 200))
        let reply = try #require(seen.requests.current.last)
        #expect(reply.text == "ok A-42")
        #expect(!reply.fromMember)
        // Anything else from the non-member gets the membership's refusal and never reaches the component.
        let refused = try await phone.endpoint.sendMessage(to: sink, body: SIPEventBody(contentType: "application/json", text: "{}"))
        #expect(refused == .rejected(statusCode: 403, reason: "Membership Proof Required"))
        #expect(seen.requests.current.count == 1)
    }

    @Test func aComponentDecidesSubscriptionsToItsOwnResourcesEachKeptApartByItsParameter() async throws {
        let seen = Seen()
        let (alice, bob, carol, _) = try await chain(seen: seen)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        // The package keeps `who` in its resources, as m2m-alarm keeps `supporter`.
        await carol.endpoint.registerPackage(SIPBasicEventPackage(name: "x-duty", resourceParameters: ["who"]))
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 1), fileName: "chain.xml")
        let context = try #require(await eventually { seen.context.current != nil } ? seen.context.current : nil)
        let sink = ServiceAddressing.instanceURI(application: "chain", service: "sink", host: carol.uri)

        try await context.sip.setState(package: "x-duty", resource: "\(sink);who=alice", contentType: "text/plain", body: Array("for alice".utf8))
        try await context.sip.setState(package: "x-duty", resource: "\(sink);who=bob", contentType: "text/plain", body: Array("for bob".utf8))
        let mine = try await alice.endpoint.subscribe(
            to: sink, resource: SIPURI("\(sink);who=alice"), subscriber: alice.uri, package: "x-duty", expires: 600, body: nil)
        var first: SIPSubscriptionUpdate?
        for await update in mine.updates {
            first = update
            break
        }
        guard case .notification(let notification) = first else {
            Issue.record("no NOTIFY: \(String(describing: first))")
            return
        }
        #expect(notification.body?.text == "for alice", "each resource keeps its own state")
        await alice.endpoint.unsubscribe(mine)

        // Someone else's resource is refused by the component.
        let theirs = try await alice.endpoint.subscribe(
            to: sink, resource: SIPURI("\(sink);who=bob"), subscriber: alice.uri, package: "x-duty", expires: 600, body: nil)
        var end: SIPSubscriptionUpdate?
        for await update in theirs.updates {
            end = update
            break
        }
        #expect(end == .terminated(.refused(statusCode: 403)))
    }

    @Test func subscribesAddressedToTheNodeGoToItsOutsideAdmissionWithTheirBody() async throws {
        let seen = Seen()
        let (alice, bob, carol, _) = try await chain(seen: seen)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        let bodies = Locked<[String]>([])
        let created = Locked<[String]>([])
        await carol.runtime.routeOutsideSubscriptions(
            of: "x-ask",
            admission: { request in
                bodies.withLock { $0.append(request.eventBody?.text ?? "") }
                return request.eventBody?.text == "refuse me" ? SIPRequestRefusal(statusCode: 488, reason: "Not Acceptable Here") : nil
            },
            changes: { change in
                if case .created = change.kind { created.withLock { $0.append(change.subscriber) } }
            })
        let asked = try await alice.endpoint.subscribe(
            to: carol.uri, package: "x-ask", expires: 600, body: SIPEventBody(contentType: "text/plain", text: "help at b1?"))
        for await update in asked.updates {
            if case .notification = update { break }
        }
        #expect(bodies.current == ["help at b1?"])
        #expect(await eventually { created.current == [alice.aor] })
        let refused = try await alice.endpoint.subscribe(
            to: carol.uri, package: "x-ask", expires: 600, body: SIPEventBody(contentType: "text/plain", text: "refuse me"))
        var end: SIPSubscriptionUpdate?
        for await update in refused.updates {
            end = update
            break
        }
        #expect(end == .terminated(.refused(statusCode: 488)))
    }

    @Test func theDeployerStoresWhereEachServiceRunsAndAnotherMemberLocatesIt() async throws {
        let seen = Seen()
        let (alice, bob, carol, directory) = try await chain(seen: seen)
        defer { Task { for node in [alice, bob, carol] { await node.stop() } } }
        _ = try await alice.runtime.deploy(composition: chainComposition(count: 1), fileName: "chain.xml")
        let stored = try await directory.get(kind: .generic, name: ServiceApplicationRecord.name(community: "test", application: "chain"))
        #expect(stored.map(\.owner) == ["alice"])
        // dave runs nothing of it and finds it in the overlay.
        let dave = try await RuntimeNode.start("dave", directory: directory)
        defer { Task { await dave.stop() } }
        let record = try #require(await dave.runtime.locate(application: "chain"))
        #expect(record.revision == 1)
        #expect(record.services(ofType: "probe-sink").map(\.uri) == [ServiceAddressing.instanceURI(application: "chain", service: "sink", host: carol.uri).description])
        #expect(record.services["mid"]?.uri == ServiceAddressing.instanceURI(application: "chain", service: "mid", host: bob.uri).description)
        #expect(await dave.runtime.locate(application: "nothing") == nil)
    }
}
