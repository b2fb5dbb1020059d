import Composition
import Foundation
import Logging
import SIPCore
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import ServicePlatform

/// The scope every test node takes part in.
let testScope = ServiceScope(community: "test", subcommunity: "lab")

/// A value behind a lock, shared with `@Sendable` closures.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
    var current: Value { lock.withLock { value } }
}

/// Sends the runtime's requests to it first, the rest to the UA core (what the node's request router does).
final class RuntimeRouter: SIPRequestHandler, @unchecked Sendable {
    let core: SIPUserAgentCore
    private let runtime = Locked<ServiceRuntime?>(nil)

    init(core: SIPUserAgentCore) { self.core = core }

    func set(_ runtime: ServiceRuntime) { self.runtime.withLock { $0 = runtime } }

    func handle(_ incoming: SIPIncomingRequest) async -> SIPResponse? {
        if let runtime = runtime.current, let response = await runtime.handle(incoming) { return response }
        return await core.handle(incoming)
    }
}

/// What the test sink received, in order, and whether it refuses inputs for now.
final class SinkLog: Sendable {
    private let state = Locked<(numbers: [Int], refusing: Bool, directs: [String])>(([], false, []))

    var numbers: [Int] { state.current.numbers }
    var directs: [String] { state.current.directs }
    func refuse(_ refusing: Bool) { state.withLock { $0.refusing = refusing } }
    var refusing: Bool { state.current.refusing }
    func record(_ number: Int) { state.withLock { $0.numbers.append(number) } }
    func direct(_ text: String) { state.withLock { $0.directs.append(text) } }

    /// Waits until the sink has every number `1...count` (or the timeout passes); returns whether it has.
    func waitForAll(_ count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { Set(self.numbers).isSuperset(of: 1...count) }
    }
}

/// A durable `probe-sink` the test watches: records each probe number, refuses (throws) while told to, and
/// answers direct MESSAGEs 202.
struct RecordingSinkFactory: ServiceComponentFactory {
    let typeName = "probe-sink"
    let durability = ServiceDurability.durable
    let log: SinkLog

    func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { RecordingSink(log: log) }
}

struct RecordingSink: ServiceComponent {
    let log: SinkLog

    func start(context: any ServiceContext) async throws {}

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(_, _, let value) = input else { return }
        if log.refusing { throw ServicePlatformError(.runtime, "refusing for the test") }
        let probe = try JSONDecoder().decode(ProbeValue.self, from: Data(value.body))
        log.record(probe.number)
    }

    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        log.direct("\(request.method) \(request.text)")
        return ServiceDirectAnswer(statusCode: 202, reason: "Taken By \(context.instance.serviceID)")
    }

    func stop() async {}
}

extension ServiceClock {
    /// The machine's clock.
    static let system = ServiceClock(now: { .nanoseconds(Int64(Date().timeIntervalSince1970 * 1e9)) }, sleep: { try await Task.sleep(for: $0) })
}

/// A clock that runs with real time from a chosen instant and that the test moves forward at once: sleepers wake
/// when the clock passes their deadline, whether time ran or jumped there.
final class SteppedClock: Sendable {
    private let offset: Locked<Duration>

    /// Starts at `start` (a duration since 1970-01-01T00:00:00Z).
    init(start: Duration) { offset = Locked(start - ServiceClock.system.now()) }

    var now: Duration { ServiceClock.system.now() + offset.current }

    /// Moves the clock to `instant` (forward: sleepers whose deadline it passes wake).
    func set(to instant: Duration) {
        let real = ServiceClock.system.now()
        offset.withLock { $0 = instant - real }
    }

    var serviceClock: ServiceClock {
        ServiceClock(
            now: { self.now },
            sleep: { duration in
                let deadline = self.now + duration
                while self.now < deadline { try await Task.sleep(for: min(deadline - self.now, .milliseconds(20))) }
            })
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

/// One in-process node: transport (UDP and TCP on one port), endpoint, runtime and router.
struct RuntimeNode {
    let name: String
    let port: Int
    let transport: SIPTransport
    let endpoint: SIPEndpoint
    let runtime: ServiceRuntime
    let store: ServiceMemoryStore
    let endpointStore: SIPInMemoryEndpointStore

    var aor: String { "sip:\(name)@127.0.0.1:\(port)" }
    var uri: SIPURI { SIPURI(aor)! }

    /// Starts a node (on `port` to restart one, else a free port) with the probe source and relay, the given sink,
    /// and `more` factories.
    static func start(
        _ name: String, port: Int? = nil, directory: ServiceMemoryDirectory, offers: [String] = [], sink: SinkLog = SinkLog(),
        more: [any ServiceComponentFactory] = [], catalog: ServiceTypeCatalog = .builtIn, store: ServiceMemoryStore = ServiceMemoryStore(),
        endpointStore: SIPInMemoryEndpointStore = SIPInMemoryEndpointStore(), membership: (any ServiceMembership)? = nil,
        area: String? = nil, clock: ServiceClock = .system, configure: (inout ServiceRuntimeConfiguration) -> Void = { _ in }
    ) async throws -> RuntimeNode {
        // SMF_TEST_LOG=debug shows what the runtimes do.
        let level = ProcessInfo.processInfo.environment["SMF_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))
        var logger = Logger(label: "test.\(name)", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level ?? .critical
        var attempt = 0
        while true {
            attempt += 1
            let chosen = port ?? Int.random(in: 20_000...60_000)
            var transportConfiguration = SIPTransportConfiguration()
            transportConfiguration.listeners = [
                SIPListenAddress(transport: .udp, host: "127.0.0.1", port: chosen), SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: chosen),
            ]
            transportConfiguration.timers.t1 = .milliseconds(50)
            transportConfiguration.timers.t2 = .milliseconds(400)
            let core = SIPUserAgentCore()
            let router = RuntimeRouter(core: core)
            let transport = SIPTransport(configuration: transportConfiguration, handler: router, logger: logger)
            do {
                _ = try await transport.bind()
            } catch {
                await transport.close()
                if port != nil || attempt > 20 { throw error }
                continue
            }
            let aor = SIPURI("sip:\(name)@127.0.0.1:\(chosen)")!
            var endpointConfiguration = SIPEndpointConfiguration(localURI: aor)
            endpointConfiguration.subscriberRetryDelay = .milliseconds(500)
            endpointConfiguration.notifyWait = .seconds(5)
            let endpoint = SIPEndpoint(
                configuration: endpointConfiguration, transport: transport, userAgent: core, store: endpointStore, logger: logger)
            try await endpoint.start()
            var configuration = ServiceRuntimeConfiguration(addressOfRecord: aor, nodeName: name)
            configuration.offeredTypes = offers
            configuration.probeInterval = .milliseconds(300)
            configuration.probeTimeout = .milliseconds(300)
            configuration.relayTimeout = .seconds(2)
            configuration.retryDelay = .milliseconds(300)
            configuration.resendInterval = .seconds(1)
            configuration.area = area
            configure(&configuration)
            let registry = ServiceComponentRegistry(
                [ProbeSourceFactory(store: store), ProbeRelayFactory(), RecordingSinkFactory(log: sink)] + more)
            let runtime = ServiceRuntime(
                configuration: configuration, endpoint: endpoint, transport: transport, registry: registry, catalog: catalog,
                membership: membership ?? OpenServiceMembership(scopes: [testScope]), directory: directory.view(as: name), store: store,
                clock: clock, logger: logger)
            router.set(runtime)
            await runtime.start()
            return RuntimeNode(name: name, port: chosen, transport: transport, endpoint: endpoint, runtime: runtime, store: store, endpointStore: endpointStore)
        }
    }

    /// Stops the node as a shutdown does: everything kept stays in its stores.
    func stop() async {
        await runtime.stop()
        await endpoint.shutdown()
        await transport.close()
    }

    /// Stops the node as a crash would look to its peers: the transport goes first, so nothing more leaves it.
    func crash() async {
        await transport.close()
        await runtime.stop()
        await endpoint.shutdown()
    }

    /// Restarts the node on its port with its stores.
    func restart(directory: ServiceMemoryDirectory, offers: [String] = [], sink: SinkLog) async throws -> RuntimeNode {
        try await RuntimeNode.start(name, port: port, directory: directory, offers: offers, sink: sink, store: store, endpointStore: endpointStore)
    }
}

/// `Services/probes/chain.xml` (a probe source on the deployer, a relay placed `any`, a sink on `carol`) with the
/// source's interval and count set.
func chainComposition(count: Int, interval: String = "20ms") -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let text = (try? String(contentsOf: root.appendingPathComponent("Services/probes/chain.xml"), encoding: .utf8)) ?? ""
    return text.replacingOccurrences(
        of: "<param name=\"interval\">200ms</param>", with: "<param name=\"interval\">\(interval)</param><param name=\"count\">\(count)</param>")
}

/// After the node running the `chain` application's relay (`mid`) crashed: all `count` values reach the sink exactly
/// once, revision 2 places the relay on `survivor`, and the owner was told it moved there.
func expectRelayMoved(
    in alice: RuntimeNode, to survivor: RuntimeNode, sink: SinkLog, count: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation
) async throws {
    #expect(await sink.waitForAll(count, timeout: .seconds(40)), sourceLocation: sourceLocation)
    let view = try #require(await alice.runtime.application(named: "chain"), sourceLocation: sourceLocation)
    #expect(view.revision == 2, sourceLocation: sourceLocation)
    #expect(view.services.first { $0.id == "mid" }?.host == survivor.aor, sourceLocation: sourceLocation)
    // Every value once: what the dead relay had passed on was dropped by id when the survivor sent it again.
    #expect(sink.numbers.count == count, sourceLocation: sourceLocation)
    #expect(Set(sink.numbers).count == count, sourceLocation: sourceLocation)
    #expect(view.notices.contains { $0.text.contains("moved to \(survivor.aor)") }, sourceLocation: sourceLocation)
}
