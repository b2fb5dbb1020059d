import Logging
import Presence
public import ServicePlatform

/// Makes `supporter-selector` instances (service 6): for each alarm on `alarms`, the supporters responsible
/// for its kind in its building (the registry's `supporters` state), ordered and filtered by availability
/// and distance (the `availability` state) with ``SupporterSelector``, go out on `selections` as a
/// ``SelectionBody``.
///
/// When its state inputs change (someone registers, someone becomes available), it selects again for the
/// alarms of the last 6 hours and sends a new selection where the list changed: that is how the notifier
/// gets a fresh list between rounds (the composition has no wire back from the notifier).
///
/// Durability: ``ServiceDurability/relay``: an alarm is acknowledged once its selection was.
public struct SupporterSelectorFactory: ServiceComponentFactory {
    public let typeName = "supporter-selector"
    public let durability = ServiceDurability.relay

    /// Creates the factory.
    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let parameters = ComponentParameters(instance: instance)
        let order = try parameters.choice("order", SupporterSelectionPolicy.Order.allCases.map(\.rawValue), default: "availability")
        let policy = SupporterSelectionPolicy(
            order: order.flatMap(SupporterSelectionPolicy.Order.init(rawValue:)) ?? .availability,
            maxDistanceKilometres: try parameters.decimal("max-distance-m", default: nil).map { $0 / 1000 },
            maxSupporters: try parameters.positiveInteger("max-supporters", default: nil))
        return SupporterSelectorComponent(instance: instance, selector: SupporterSelector(policy: policy))
    }
}

/// A running selector. See ``SupporterSelectorFactory``.
actor SupporterSelectorComponent: ServiceComponent {
    /// How long alarms are remembered for selecting again.
    static let memory = Duration.seconds(6 * 3600)
    /// How many alarms are remembered at most.
    static let memoryCount = 512

    private struct Remembered {
        var alarm: Alarm
        var lastSelectionID: String
        var receivedAt: Duration
    }

    let instance: ServiceInstanceInfo
    let selector: SupporterSelector
    private var registrationsByWire: [String: [SupporterRegistration]] = [:]
    private var documentsByWire: [String: [SIPAddressKey: PresenceDocument]] = [:]
    private var heardFromRegistry = false
    private(set) var registry = SupporterRegistry()
    private var book = SupporterAvailabilityBook()
    private var recent: [String: Remembered] = [:]
    private var recentOrder: [String] = []
    private var withAvailability = 0

    init(instance: ServiceInstanceInfo, selector: SupporterSelector) {
        self.instance = instance
        self.selector = selector
    }

    func start(context: any ServiceContext) async throws {}

    func stop() async {}

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        let now = context.clock.now()
        switch input {
        case .state("supporters", let wire, let values):
            heardFromRegistry = true
            registrationsByWire[wire] = values.compactMap { value in
                value.decoded(as: SurveillanceMediaType.registration, on: "supporters", logger: context.logger) { bytes in
                    try SupporterRegistrationBody(parsing: bytes).registration(from: nil, at: now, maxExpiry: nil)
                } ?? nil
            }
            rebuild(at: now)
            try await selectAgain(context)
        case .state("availability", let wire, let values):
            var documents: [SIPAddressKey: PresenceDocument] = [:]
            for value in values {
                guard let document = value.decoded(as: SurveillanceMediaType.pidf, on: "availability", logger: context.logger, PresenceDocument.init(decoding:))
                else { continue }
                documents[SIPAddressKey(value.attributes["supporter"] ?? document.entity)] = document
            }
            documentsByWire[wire] = documents
            rebuild(at: now)
            try await selectAgain(context)
        case .value("alarms", _, let value):
            guard let alarm = value.decoded(as: SurveillanceMediaType.alarm, on: "alarms", logger: context.logger, AlarmMessages.alarm(fromBody:))
            else { return }
            if !heardFromRegistry {
                await context.notice(
                    "\(instance.application): alarm \(alarm.id) (\(alarm.kind) in \(alarm.building)) reached \(instance.serviceID) "
                        + "before any supporter list from the registry: the registry may be down; the alarm goes on with nobody to contact")
            }
            try await select(alarm, at: now, context: context, force: true)
        default:
            return
        }
    }

    /// The registry and availability book from every wire's latest state; registrations in the order the
    /// registry listed them.
    private func rebuild(at now: Duration) {
        var registry = SupporterRegistry()
        for wire in registrationsByWire.keys.sorted() {
            for registration in registrationsByWire[wire] ?? [] { try? registry.register(registration, at: now) }
        }
        var documents: [SIPAddressKey: PresenceDocument] = [:]
        for wire in documentsByWire.keys.sorted() { documents.merge(documentsByWire[wire] ?? [:]) { _, new in new } }
        var book = SupporterAvailabilityBook()
        for registration in registry.all {
            if let document = documents[SIPAddressKey(registration.supporter)] {
                book.report(document, from: registration.supporter, at: now)
            }
        }
        self.registry = registry
        self.book = book
        withAvailability = registry.all.filter { documents[SIPAddressKey($0.supporter)] != nil }.count
    }

    /// E.g. `2 supporters registered, 2 with availability; selected for 1 alarm` (for `smf app show`).
    func summary() async -> String? {
        let supporters = registry.all.count
        return "\(supporters) supporter\(supporters == 1 ? "" : "s") registered, \(withAvailability) with availability; "
            + "selected for \(recent.count) alarm\(recent.count == 1 ? "" : "s")"
    }

    /// Selects for `alarm` and sends the selection unless it is the one sent last (`force`: send anyway).
    private func select(_ alarm: Alarm, at now: Duration, context: any ServiceContext, force: Bool) async throws {
        let body = SelectionBody(alarm: alarm, selection: selector.select(for: alarm, registry: registry, book: book, at: now))
        let recipientsJSON = JSONOut.encodeCodable(body.recipients)
        let id = "selection:\(alarm.id):\(StableHash.hex(recipientsJSON))"
        if !force, recent[alarm.id]?.lastSelectionID == id { return }
        try await context.emit(
            ServiceValue(
                id: id, contentType: SurveillanceMediaType.selection, body: body.encoded(),
                attributes: ["building": alarm.building, "kind": alarm.kind]),
            on: "selections")
        remember(alarm, selectionID: id, at: now)
    }

    private func remember(_ alarm: Alarm, selectionID: String, at now: Duration) {
        if recent[alarm.id] == nil { recentOrder.append(alarm.id) }
        recent[alarm.id] = Remembered(alarm: alarm, lastSelectionID: selectionID, receivedAt: recent[alarm.id]?.receivedAt ?? now)
        while let oldest = recentOrder.first,
            recentOrder.count > Self.memoryCount || (recent[oldest].map { now - $0.receivedAt > Self.memory } ?? true)
        {
            recentOrder.removeFirst()
            recent[oldest] = nil
        }
    }

    /// Selects again for the remembered alarms after a state change.
    private func selectAgain(_ context: any ServiceContext) async throws {
        let now = context.clock.now()
        for id in recentOrder {
            guard let remembered = recent[id], now - remembered.receivedAt <= Self.memory else { continue }
            try await select(remembered.alarm, at: now, context: context, force: false)
        }
    }
}
