import Composition
import Foundation
import Logging
import Presence
public import ServicePlatform

/// Makes `supporter-availability` instances (service 2): supporters PUBLISH their availability and location
/// (event package `presence`, PIDF with PIDF-LO, RFC 3903 / RFC 3863 / RFC 4119), or a presence server's
/// documents arrive on the `reports` state port; the `availability` state port carries each supporter's
/// latest document (attribute `supporter`).
///
/// A report older than `max-age` (default 1 h, RFC 3903's default publication lifetime) is passed on with
/// its basic status and activities removed, so consumers read the supporter's availability as unknown but
/// still know where they last were. Durability: ``ServiceDurability/durable``: a report is committed to the
/// ``SurveillanceStateStore`` before the PUBLISH is answered 200; the factory restores the reports.
public struct SupporterAvailabilityFactory: ServiceComponentFactory {
    public let typeName = "supporter-availability"
    public let durability = ServiceDurability.durable
    /// Where reports are kept.
    public let store: any SurveillanceStateStore

    /// Creates the factory over `store`.
    public init(store: any SurveillanceStateStore) {
        self.store = store
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let maxAge = try ComponentParameters(instance: instance).duration("max-age", default: .seconds(3600)) ?? .seconds(3600)
        var reports: [String: SupporterAvailabilityComponent.Report] = [:]
        var order: [String] = []
        for entry in try store.entries(scope: instance.stateScope) {
            guard let report = try? JSONDecoder().decode(SupporterAvailabilityComponent.Report.self, from: Data(entry.value)) else { continue }
            reports[entry.key] = report
            order.append(entry.key)
        }
        return SupporterAvailabilityComponent(instance: instance, store: store, maxAge: maxAge, reports: reports, order: order)
    }
}

/// A running availability service. See ``SupporterAvailabilityFactory``.
actor SupporterAvailabilityComponent: ServiceComponent {
    /// The largest PIDF document accepted, in bytes.
    static let maxDocumentSize = 65_536

    /// A supporter's latest report, as stored.
    struct Report: Codable, Sendable, Hashable {
        /// The PIDF document as received.
        var pidf: String
        /// When it arrived, in nanoseconds since 1970.
        var reportedAtNs: Int64
        /// `publish`, or `wire:<id>` for a document from the `reports` port.
        var source: String

        var reportedAt: Duration { .nanoseconds(reportedAtNs) }
    }

    let instance: ServiceInstanceInfo
    let store: any SurveillanceStateStore
    let maxAge: Duration
    private var reports: [String: Report]
    private var order: [String]
    private var context: (any ServiceContext)?
    private let timer = ComponentTimer()
    private var stateUnpublished = false

    init(instance: ServiceInstanceInfo, store: any SurveillanceStateStore, maxAge: Duration, reports: [String: Report], order: [String]) {
        self.instance = instance
        self.store = store
        self.maxAge = maxAge
        self.reports = reports
        self.order = order
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        await publish(context)
        arm(context)
    }

    func stop() async {
        timer.stop()
        context = nil
    }

    // MARK: - Inputs

    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        guard request.method.uppercased() == "PUBLISH" else {
            return DirectAnswer.notAllowed(request.method, takes: "PUBLISH (presence) of PIDF documents")
        }
        guard request.hasEventPackage(M2MEventPackage.presence) else {
            return DirectAnswer.badEvent(request.eventPackage, expected: M2MEventPackage.presence)
        }
        let now = context.clock.now()
        let supporter = request.from
        if request.body.isEmpty {
            // A refresh (RFC 3903 §4.4): the document held is still the supporter's.
            guard var report = reports[supporter] else {
                return ServiceDirectAnswer(statusCode: 412, reason: "Conditional Request Failed: no publication of \(supporter) to refresh")
            }
            report.reportedAtNs = now.wholeNanoseconds
            return await save([(supporter, report)], context: context)
        }
        guard SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.pidf) else {
            return DirectAnswer.unsupportedMediaType(request.contentType, expected: [SurveillanceMediaType.pidf])
        }
        guard request.body.count <= Self.maxDocumentSize else {
            return DirectAnswer.badRequest("the PIDF document is \(request.body.count) bytes, more than the \(Self.maxDocumentSize) allowed")
        }
        do {
            _ = try PresenceDocument(decoding: request.body)
        } catch {
            return DirectAnswer.badRequest("invalid PIDF document: \(error)")
        }
        return await save([(supporter, Report(pidf: request.text, reportedAtNs: now.wholeNanoseconds, source: "publish"))], context: context)
    }

    private func save(_ changes: [(String, Report?)], context: any ServiceContext) async -> ServiceDirectAnswer {
        do {
            try await apply(changes, context: context)
        } catch {
            return DirectAnswer.serverError("the report could not be stored: \(error)")
        }
        return .ok
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .state(let port, let wire, let values) = input, port == "reports" else { return }
        let now = context.clock.now()
        let source = "wire:\(wire)"
        var changes: [(String, Report?)] = []
        var named: Set<String> = []
        for value in values {
            do {
                guard value.isOfType(SurveillanceMediaType.pidf), value.body.count <= Self.maxDocumentSize else {
                    throw SurveillanceError(.invalidPresence, "media type \(value.contentType), \(value.body.count) bytes")
                }
                let document = try PresenceDocument(decoding: value.body)
                guard let supporter = value.attributes["supporter"] ?? (SIPAddress.isSIPURI(document.entity) ? document.entity : nil) else {
                    throw SurveillanceError(.invalidPresence, "the document names no sip: entity and the value no supporter")
                }
                named.insert(supporter)
                if reports[supporter]?.pidf != value.text || reports[supporter]?.source != source {
                    changes.append((supporter, Report(pidf: value.text, reportedAtNs: now.wholeNanoseconds, source: source)))
                }
            } catch {
                context.logger.droppedValue(port, value, "\(error)")
            }
        }
        for (supporter, report) in reports where report.source == source && !named.contains(supporter) {
            changes.append((supporter, nil))
        }
        guard !changes.isEmpty else { return }
        try await apply(changes, context: context)
    }

    /// Stores the changes, then applies them and publishes the new state.
    private func apply(_ changes: [(String, Report?)], context: any ServiceContext) async throws {
        let encoded = try changes.map { supporter, report in
            (key: supporter, value: try report.map { [UInt8](try JSONEncoder().encode($0)) })
        }
        _ = try store.apply(encoded, scope: instance.stateScope, inputID: nil, at: context.clock.now())
        for (supporter, report) in changes {
            if let report {
                if reports[supporter] == nil { order.append(supporter) }
                reports[supporter] = report
            } else {
                reports[supporter] = nil
                order.removeAll { $0 == supporter }
            }
        }
        await publish(context)
        arm(context)
    }

    // MARK: - State

    /// The `availability` state: one PIDF document per supporter, in the order they first reported; stale
    /// ones without availability.
    func stateValues(at now: Duration) -> [ServiceValue] {
        order.compactMap { supporter in
            guard let report = reports[supporter] else { return nil }
            let stale = now - report.reportedAt > maxAge
            var body = Array(report.pidf.utf8)
            if stale, let document = try? PresenceDocument(decoding: body), let text = try? Self.withoutAvailability(document).encoded() {
                body = Array(text.utf8)
            }
            return ServiceValue(
                id: "\(supporter)@\(report.reportedAtNs)\(stale ? "-stale" : "")", contentType: SurveillanceMediaType.pidf, body: body,
                attributes: ["supporter": supporter])
        }
    }

    /// The document with its location but no basic status or activities: availability unknown.
    static func withoutAvailability(_ document: PresenceDocument) -> PresenceDocument {
        var document = document
        for index in document.tuples.indices {
            document.tuples[index].status.basic = nil
            document.tuples[index].status.activities = []
        }
        for index in document.persons.indices { document.persons[index].activities = [] }
        return document
    }

    private func publish(_ context: any ServiceContext) async {
        do {
            try await context.setState(stateValues(at: context.clock.now()), on: "availability")
            stateUnpublished = false
        } catch {
            stateUnpublished = true
            context.logger.info("The availability state could not be published", metadata: ["sdp.problem": "\(error)"])
        }
    }

    func timersDue() async {
        guard let context else { return }
        await publish(context)
        arm(context)
    }

    /// Wakes when the next fresh report goes stale (or to retry a failed publication).
    private func arm(_ context: any ServiceContext) {
        let now = context.clock.now()
        var next = reports.values.map { $0.reportedAt + maxAge + .nanoseconds(1) }.filter { $0 > now }.min()
        if stateUnpublished { next = min(next ?? now + .seconds(1), now + .seconds(1)) }
        guard let next else { return }
        timer.arm(at: next, clock: context.clock) { [weak self] in await self?.timersDue() }
    }
}
