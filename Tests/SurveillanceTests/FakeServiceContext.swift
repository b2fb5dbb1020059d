import Composition
import Foundation
import Logging
import Rules
import ServicePlatform
import Testing

@testable import Surveillance

// The fake SDP the component tests run on: a manual clock, a ServiceContext that records what a component
// emits, sets, sends and notices, and a runtime that wires several components of a composition in one
// process. The real runtime (module ServicePlatform, issue 6) carries the same API over SIP.

/// 2026-11-23T08:00:00Z, where the fake clock starts.
let testEpoch = Duration.seconds(1_795_420_800)

/// Virtual time: `sleep` waits until the test moves the clock past its deadline.
final class ManualClock: @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private let lock = NSLock()
    private var current: Duration
    private var sleepers: [Int: (deadline: Duration, continuation: CheckedContinuation<Void, any Error>)] = [:]
    private var nextSleeper = 0
    private var activityCount = 0

    init(start: Duration = testEpoch) {
        current = start
    }

    var now: Duration { lock.withLock { current } }

    /// The clock a context hands to components.
    var serviceClock: ServiceClock {
        ServiceClock(now: { [self] in now }, sleep: { [self] duration in try await sleep(duration) })
    }

    /// Something happened (a context call): ``settle()`` waits for quiet.
    func noteActivity() { lock.withLock { activityCount += 1 } }

    /// How many tasks are sleeping on the clock.
    var sleeperCount: Int { lock.withLock { sleepers.count } }

    func sleep(_ duration: Duration) async throws {
        noteActivity()
        guard duration > .zero else {
            await Task.yield()
            try Task.checkCancellation()
            return
        }
        let id = lock.withLock {
            nextSleeper += 1
            return nextSleeper
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                lock.lock()
                if Task.isCancelled {
                    lock.unlock()
                    continuation.resume(throwing: CancellationError())
                    return
                }
                sleepers[id] = (current + duration, continuation)
                lock.unlock()
            }
        } onCancel: {
            let sleeper = lock.withLock { sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration`, stopping at every sleeper's deadline on the way and letting what it
    /// woke settle before going on.
    func advance(by duration: Duration) async {
        // What the test just did (an answer, a stream update) may still be arming timers.
        await settle()
        let target = now + duration
        while true {
            let woken: [CheckedContinuation<Void, any Error>] = lock.withLock {
                guard let next = sleepers.values.map(\.deadline).min(), next <= target else { return [] }
                current = max(current, next)
                let due = sleepers.filter { $0.value.deadline <= current }.sorted { $0.value.deadline < $1.value.deadline }
                for (key, _) in due { sleepers[key] = nil }
                return due.map(\.value.continuation)
            }
            if woken.isEmpty { break }
            for continuation in woken { continuation.resume() }
            await settle()
        }
        lock.withLock { current = max(current, target) }
        await settle()
    }

    /// Waits (in real time) until nothing happens for a while: no context call, no sleeper added or woken.
    func settle() async {
        func signature() -> [Int] { lock.withLock { [activityCount, sleepers.count] + sleepers.keys.sorted() } }
        var last = signature()
        var quiet = 0
        while quiet < 10 {
            try? await Task.sleep(for: .milliseconds(1))
            let now = signature()
            if now == last { quiet += 1 } else { quiet = 0; last = now }
        }
    }
}

/// Waits (real time, at most `timeout`) until `condition` holds; returns whether it did.
func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return await condition()
}

/// SIP beyond the wires, recorded; results are chosen by the test.
final class FakeSIP: ServiceSIP, @unchecked Sendable {
    struct Message: Sendable {
        var to: String
        var contentType: String
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct StateSet: Sendable {
        var package: String
        var resource: String
        var contentType: String
        var body: [UInt8]
    }

    struct Subscription: Sendable {
        var to: String
        var package: String
        var contentType: String?
        var body: [UInt8]
        var expires: Int
        var updates: AsyncStream<ServiceSubscriptionUpdate>.Continuation
    }

    // Guarded by `lock`; that is what makes the class Sendable.
    private let lock = NSLock()
    private var sentMessages: [Message] = []
    private var setStates: [StateSet] = []
    private var madeSubscriptions: [Subscription] = []
    private var cancelledSubscriptions = 0
    private var messageOutcome: @Sendable (Message) -> ServiceDeliveryResult = { _ in .delivered(statusCode: 200) }
    private var stateFailure: String?
    let clock: ManualClock?

    init(clock: ManualClock? = nil) {
        self.clock = clock
    }

    var messages: [Message] { lock.withLock { sentMessages } }
    var states: [StateSet] { lock.withLock { setStates } }
    var subscriptions: [Subscription] { lock.withLock { madeSubscriptions } }
    var cancelled: Int { lock.withLock { cancelledSubscriptions } }

    /// How MESSAGEs end from now on.
    func answerMessages(_ outcome: @escaping @Sendable (Message) -> ServiceDeliveryResult) { lock.withLock { messageOutcome = outcome } }
    /// Makes `setState` fail (nil: succeed).
    func failSetState(_ reason: String?) { lock.withLock { stateFailure = reason } }

    func sendMessage(to uri: String, contentType: String, body: [UInt8]) async -> ServiceDeliveryResult {
        clock?.noteActivity()
        let message = Message(to: uri, contentType: contentType, body: body)
        let outcome = lock.withLock {
            sentMessages.append(message)
            return messageOutcome
        }
        return outcome(message)
    }

    func subscribe(to uri: String, package: String, contentType: String?, body: [UInt8], expires: Int) async
        -> (updates: AsyncStream<ServiceSubscriptionUpdate>, cancel: @Sendable () async -> Void)
    {
        clock?.noteActivity()
        let (stream, continuation) = AsyncStream<ServiceSubscriptionUpdate>.makeStream()
        lock.withLock {
            madeSubscriptions.append(
                Subscription(to: uri, package: package, contentType: contentType, body: body, expires: expires, updates: continuation))
        }
        return (stream, { [self] in
            lock.withLock { cancelledSubscriptions += 1 }
            continuation.finish()
        })
    }

    func setState(package: String, resource: String, contentType: String, body: [UInt8]) async throws {
        clock?.noteActivity()
        let failure = lock.withLock {
            if stateFailure == nil { setStates.append(StateSet(package: package, resource: resource, contentType: contentType, body: body)) }
            return stateFailure
        }
        if let failure { throw ServicePlatformError(.runtime, failure) }
    }
}

/// A ``ServiceContext`` that records everything a component does. Emits and state changes can be handed on
/// (``onEmit``, ``onSetState``: what a runtime does) or made to fail.
final class FakeContext: ServiceContext, @unchecked Sendable {
    let instance: ServiceInstanceInfo
    let manualClock: ManualClock
    let fakeSIP: FakeSIP
    let logger: Logger
    // Guarded by `lock`; that is what makes the class Sendable.
    private let lock = NSLock()
    private var emittedValues: [(port: String, value: ServiceValue)] = []
    private var currentStates: [String: [ServiceValue]] = [:]
    private var stateChanges = 0
    private var noticeTexts: [String] = []
    private var emitFailure: String?
    private var freshIDs = 0
    var onEmit: (@Sendable (String, ServiceValue) async throws -> Void)?
    var onSetState: (@Sendable (String, [ServiceValue]) async throws -> Void)?

    init(instance: ServiceInstanceInfo, clock: ManualClock, sip: FakeSIP? = nil) {
        self.instance = instance
        self.manualClock = clock
        self.fakeSIP = sip ?? FakeSIP(clock: clock)
        var logger = Logger(label: "test.\(instance.serviceID)", factory: { _ in SwiftLogNoOpLogHandler() })
        logger[metadataKey: "sdp.service"] = "\(instance.serviceID)"
        self.logger = logger
    }

    var clock: ServiceClock { manualClock.serviceClock }
    var sip: any ServiceSIP { fakeSIP }

    var emitted: [(port: String, value: ServiceValue)] { lock.withLock { emittedValues } }
    func emitted(on port: String) -> [ServiceValue] { emitted.filter { $0.port == port }.map(\.value) }
    func state(of port: String) -> [ServiceValue]? { lock.withLock { currentStates[port] } }
    var stateChangeCount: Int { lock.withLock { stateChanges } }
    var notices: [String] { lock.withLock { noticeTexts } }

    /// Makes `emit` throw (nil: succeed).
    func failEmits(_ reason: String?) { lock.withLock { emitFailure = reason } }

    private var descriptor: ServiceTypeDescriptor? { ServiceTypeCatalog.builtIn[instance.serviceType] }

    func emit(_ value: ServiceValue, on port: String) async throws {
        manualClock.noteActivity()
        guard let output = descriptor?.output(port), output.delivery == .events else {
            throw ServicePlatformError(.unknownPort, "\(instance.serviceType) has no event output '\(port)'")
        }
        let recorded = try lock.withLock {
            if let emitFailure { throw ServicePlatformError(.runtime, emitFailure) }
            var value = value
            if value.id.isEmpty {
                freshIDs += 1
                value.id = "fresh-\(freshIDs)"
            }
            emittedValues.append((port, value))
            return value
        }
        try await onEmit?(port, recorded)
    }

    func setState(_ values: [ServiceValue], on port: String) async throws {
        manualClock.noteActivity()
        guard let output = descriptor?.output(port), output.delivery == .state else {
            throw ServicePlatformError(.unknownPort, "\(instance.serviceType) has no state output '\(port)'")
        }
        lock.withLock {
            currentStates[port] = values
            stateChanges += 1
        }
        try await onSetState?(port, values)
    }

    func notice(_ text: String) async {
        manualClock.noteActivity()
        lock.withLock { noticeTexts.append(text) }
    }
}

// MARK: - Instances

/// An instance of `type` with these parameters (and rules), as a composition would declare it.
func instance(
    _ type: String, id: String? = nil, _ parameters: [String: String] = [:], rules: [Rule] = [], application: String = "watch"
) -> ServiceInstanceInfo {
    let location = SourceLocation(file: "test.xml", line: 1)
    let declaration = ServiceDeclaration(
        id: id ?? type, type: type,
        configuration: parameters.sorted { $0.key < $1.key }.map { ConfigurationEntry(name: $0.key, value: $0.value, location: location) },
        rules: rules.map { RuleDeclaration(rule: $0, location: location) }, location: location)
    return ServiceInstanceInfo(
        application: application, community: "north-street", subcommunity: "surveillance/north-street", declaration: declaration,
        uri: "sip:\(application).\(id ?? type)@127.0.0.1:5070", hostAddressOfRecord: "sip:node-1@127.0.0.1:5070",
        deployer: "sip:owner@127.0.0.1:5060")
}

/// A started instance of `factory`'s type with its fake context.
func started(
    _ factory: any ServiceComponentFactory, _ info: ServiceInstanceInfo, clock: ManualClock = ManualClock(), sip: FakeSIP? = nil
) async throws -> (any ServiceComponent, FakeContext) {
    let component = try factory.makeComponent(for: info)
    let context = FakeContext(instance: info, clock: clock, sip: sip)
    try await component.start(context: context)
    return (component, context)
}

/// A direct request as a sender's SIP request would reach an instance.
func request(
    _ method: String, event: String? = nil, from: String, to instance: ServiceInstanceInfo, contentType: String?, _ body: String
) -> ServiceDirectRequest {
    ServiceDirectRequest(
        method: method, eventPackage: event, from: from, requestURI: instance.uri, contentType: contentType, body: Array(body.utf8))
}

/// A sensor body's text.
func sensorJSON(_ sensor: String, _ kind: String, _ value: Double, building: String = "house-12", time: Duration? = nil) -> String {
    String(decoding: SensorReadingBody(sensorID: sensor, building: building, kind: kind, value: value, time: time).encoded(), as: UTF8.self)
}

// MARK: - A runtime in one process

/// Runs every service of a composition in one process on fake contexts: a value emitted on a port reaches
/// each consumer wired to it whose filters it passes (duplicates by id dropped per wire) before `emit`
/// returns; a state set on a port reaches the consumers as `.state`; direct requests go to an instance by
/// service id. SIP to parties outside the composition goes to one shared ``FakeSIP``.
final class FakeRuntime: @unchecked Sendable {
    let composition: Composition
    let clock: ManualClock
    let sip: FakeSIP
    private(set) var components: [String: any ServiceComponent] = [:]
    private(set) var contexts: [String: FakeContext] = [:]
    // Guarded by `lock`.
    private let lock = NSLock()
    private var delivered: [String: Set<String>] = [:]

    init(composition: Composition, factories: [any ServiceComponentFactory], clock: ManualClock) throws {
        self.composition = composition
        self.clock = clock
        self.sip = FakeSIP(clock: clock)
        let registry = ServiceComponentRegistry(factories)
        for declaration in composition.services {
            let info = ServiceInstanceInfo(
                application: composition.name, community: composition.community, subcommunity: composition.subcommunity,
                declaration: declaration, uri: "sip:\(composition.name).\(declaration.id)@127.0.0.1:5070",
                hostAddressOfRecord: "sip:node@127.0.0.1:5070", deployer: "sip:owner@127.0.0.1:5060")
            guard let factory = registry.factory(for: declaration.type) else {
                throw ServicePlatformError(.unknownType, "no factory for \(declaration.type)")
            }
            components[declaration.id] = try factory.makeComponent(for: info)
            let context = FakeContext(instance: info, clock: clock, sip: sip)
            let serviceID = declaration.id
            context.onEmit = { [unowned self] port, value in try await self.deliver(value, from: serviceID, port: port) }
            context.onSetState = { [unowned self] port, values in try await self.deliverState(values, from: serviceID, port: port) }
            contexts[declaration.id] = context
        }
    }

    /// Starts every instance; simulated sensors last, so everything they feed is running.
    func start() async throws {
        let order = composition.services.filter { $0.type != "simulated-sensor" } + composition.services.filter { $0.type == "simulated-sensor" }
        for declaration in order {
            guard let component = components[declaration.id], let context = contexts[declaration.id] else { continue }
            try await component.start(context: context)
        }
        await clock.settle()
    }

    func stop() async {
        for component in components.values { await component.stop() }
    }

    func context(_ id: String) -> FakeContext { contexts[id]! }

    /// A direct request to instance `id`.
    func direct(_ method: String, event: String? = nil, from: String, to id: String, contentType: String?, _ body: String) async
        -> ServiceDirectAnswer
    {
        let context = context(id)
        let answer = await components[id]!.handle(
            request(method, event: event, from: from, to: context.instance, contentType: contentType, body), context: context)
        await clock.settle()
        return answer
    }

    private func wires(from service: String, port: String) -> [Wire] {
        composition.wires.filter { $0.from.service == service && $0.from.port == port }
    }

    private func deliver(_ value: ServiceValue, from service: String, port: String) async throws {
        for wire in wires(from: service, port: port) where value.passes(wire.filters) {
            let wireID = wire.id ?? wire.description
            let fresh = lock.withLock { delivered[wireID, default: []].insert(value.id).inserted }
            guard fresh, let consumer = components[wire.to.service], let context = contexts[wire.to.service] else { continue }
            do {
                try await consumer.receive(.value(port: wire.to.port, wire: wireID, value), context: context)
            } catch {
                // Refused: the runtime keeps it and delivers it again later.
                lock.withLock { _ = delivered[wireID]?.remove(value.id) }
                throw error
            }
        }
    }

    private func deliverState(_ values: [ServiceValue], from service: String, port: String) async throws {
        for wire in wires(from: service, port: port) {
            guard let consumer = components[wire.to.service], let context = contexts[wire.to.service] else { continue }
            try await consumer.receive(
                .state(port: wire.to.port, wire: wire.id ?? wire.description, values.filter { $0.passes(wire.filters) }), context: context)
        }
    }
}
