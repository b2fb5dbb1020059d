import Composition
import Logging
public import ServicePlatform

/// Makes `supporter-registry` instances (service 1): supporters register the event kinds and buildings they
/// answer for with a PUBLISH (`m2m-supporter-registration`, ``SupporterRegistrationBody``), or a front end
/// sends registrations on the `registrations` port; the `supporters` state port carries every live
/// registration, in registration order.
///
/// Durability: ``ServiceDurability/durable``. A registration is committed to the ``SurveillanceStateStore``
/// before the PUBLISH is answered or the value acknowledged (a value id applied once only); the factory
/// restores the registry from the store. Registrations lapse after their expiry (at most and by default
/// `registration-expiry`, 24 h); `expires: 0` removes one.
public struct SupporterRegistryFactory: ServiceComponentFactory {
    public let typeName = "supporter-registry"
    public let durability = ServiceDurability.durable
    /// Where registrations are kept.
    public let store: any SurveillanceStateStore

    /// Creates the factory over `store`.
    public init(store: any SurveillanceStateStore) {
        self.store = store
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let expiry = try ComponentParameters(instance: instance).duration("registration-expiry", default: .seconds(86_400)) ?? .seconds(86_400)
        return SupporterRegistryComponent(
            instance: instance, store: store, maxExpiry: expiry, stored: try store.entries(scope: instance.stateScope))
    }
}

/// A running registry. See ``SupporterRegistryFactory``.
actor SupporterRegistryComponent: ServiceComponent {
    /// How long value ids are remembered for duplicate detection.
    static let inputMemory = Duration.seconds(7 * 86_400)

    let instance: ServiceInstanceInfo
    let store: any SurveillanceStateStore
    let maxExpiry: Duration
    private var stored: [(key: String, value: [UInt8])]
    private(set) var registry = SupporterRegistry()
    private var context: (any ServiceContext)?
    private let timer = ComponentTimer()
    private var stateUnpublished = false

    init(instance: ServiceInstanceInfo, store: any SurveillanceStateStore, maxExpiry: Duration, stored: [(key: String, value: [UInt8])]) {
        self.instance = instance
        self.store = store
        self.maxExpiry = maxExpiry
        self.stored = stored
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        let now = context.clock.now()
        var lapsed: [String] = []
        for entry in stored {
            do {
                guard let registration = try SupporterRegistrationBody(parsing: entry.value).registration(from: nil, at: now, maxExpiry: nil)
                else { continue }
                try registry.register(registration, at: now)
            } catch {
                // Expired while the node was down (or unreadable): forget it.
                lapsed.append(entry.key)
            }
        }
        stored = []
        if !lapsed.isEmpty {
            _ = try store.apply(lapsed.map { ($0, nil) }, scope: instance.stateScope, inputID: nil, at: now)
        }
        await publish(context)
        arm(context)
    }

    func stop() async {
        timer.stop()
        context = nil
    }

    /// E.g. `3 registrations` (for `smf app show`).
    func summary() async -> String? { "\(registry.all.count) registration\(registry.all.count == 1 ? "" : "s")" }

    // MARK: - Inputs

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(let port, _, let value) = input, port == "registrations" else { return }
        let now = context.clock.now()
        let read = value.decoded(as: SurveillanceMediaType.registration, on: port, logger: context.logger) { bytes in
            let body = try SupporterRegistrationBody(parsing: bytes)
            let registration = try body.registration(from: nil, at: now, maxExpiry: maxExpiry)
            return (supporter: registration?.supporter ?? body.supporter ?? "", registration: registration)
        }
        guard let change = read else { return }
        try await apply(change.registration, of: change.supporter, inputID: value.id.isEmpty ? nil : value.id, context: context)
    }

    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        guard request.method.uppercased() == "PUBLISH" else {
            return DirectAnswer.notAllowed(request.method, takes: "PUBLISH (m2m-supporter-registration)")
        }
        guard request.hasEventPackage(M2MEventPackage.supporterRegistration) else {
            return DirectAnswer.badEvent(request.eventPackage, expected: M2MEventPackage.supporterRegistration)
        }
        guard SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.registration) else {
            return DirectAnswer.unsupportedMediaType(request.contentType, expected: [SurveillanceMediaType.registration])
        }
        let now = context.clock.now()
        let body: SupporterRegistrationBody
        do {
            body = try SupporterRegistrationBody(parsing: request.body)
        } catch {
            return DirectAnswer.badRequest(error.description)
        }
        if let supporter = body.supporter, SIPAddressKey(supporter) != SIPAddressKey(request.from) {
            return DirectAnswer.forbidden("\(request.from) may register only itself, not \(supporter)")
        }
        let registration: SupporterRegistration?
        do {
            registration = try body.registration(from: request.from, at: now, maxExpiry: maxExpiry)
        } catch {
            return DirectAnswer.badRequest(error.description)
        }
        do {
            try await apply(registration, of: body.supporter ?? request.from, inputID: nil, context: context)
        } catch {
            return DirectAnswer.serverError("the registration could not be stored: \(error)")
        }
        return .ok
    }

    /// Stores the change, then applies it and publishes the new state.
    private func apply(
        _ registration: SupporterRegistration?, of supporter: String, inputID: String?, context: any ServiceContext
    ) async throws {
        let now = context.clock.now()
        let key = registration?.supporter ?? supporter
        let applied = try store.apply(
            [(key, registration.map { SupporterRegistrationBody($0).encoded() })], scope: instance.stateScope, inputID: inputID, at: now)
        guard applied else { return }
        if let registration {
            try registry.register(registration, at: now)
        } else {
            registry.unregister(key)
        }
        await publish(context)
        arm(context)
    }

    // MARK: - State

    /// The `supporters` state: one value per registration, building and kind (so a wire filtered by
    /// `building` or `kind` gets the registrations naming it), each carrying the whole registration.
    func stateValues(at now: Duration) -> [ServiceValue] {
        var values: [ServiceValue] = []
        for registration in registry.all where registration.expiresAt > now {
            let body = SupporterRegistrationBody(registration).encoded()
            for building in registration.buildings.sorted() {
                for kind in registration.eventKinds.sorted() {
                    values.append(
                        ServiceValue(
                            id: "\(registration.supporter)|\(building)|\(kind)|\(registration.expiresAt.wholeNanoseconds)",
                            contentType: SurveillanceMediaType.registration, body: body,
                            attributes: ["supporter": registration.supporter, "building": building, "kind": kind]))
                }
            }
        }
        return values
    }

    private func publish(_ context: any ServiceContext) async {
        do {
            try await context.setState(stateValues(at: context.clock.now()), on: "supporters")
            stateUnpublished = false
        } catch {
            stateUnpublished = true
            context.logger.info("The supporters state could not be published", metadata: ["sdp.problem": "\(error)"])
        }
    }

    func timersDue() async {
        guard let context else { return }
        let now = context.clock.now()
        let expired = registry.expire(at: now)
        if !expired.isEmpty {
            do {
                _ = try store.apply(expired.map { ($0, nil) }, scope: instance.stateScope, inputID: nil, at: now)
                _ = try store.forgetInputs(scope: instance.stateScope, before: now - Self.inputMemory)
            } catch {
                context.logger.info("Expired registrations could not be removed", metadata: ["sdp.problem": "\(error)"])
            }
        }
        if !expired.isEmpty || stateUnpublished { await publish(context) }
        arm(context)
    }

    private func arm(_ context: any ServiceContext) {
        var next = registry.nextExpiry
        if stateUnpublished { next = min(next ?? .seconds(Int64.max), context.clock.now() + .seconds(1)) }
        guard let next else { return }
        timer.arm(at: next, clock: context.clock) { [weak self] in await self?.timersDue() }
    }
}
