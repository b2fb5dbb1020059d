import Composition
import Foundation
import Logging
public import ServicePlatform

/// Makes `supporter-notifier` instances (service 7): for each selection on `selections` they deliver the
/// alarm with ``AlarmDelivery`` (one supporter at a time, retries with backoff, escalation on decline or
/// silence, rounds until someone accepts), store every step in the ``AlarmStore`` before acting on it,
/// alert the owners through ``ServiceContext/notice(_:)`` when a round ends with nobody, and send how each
/// alarm ended on `deliveries` (``DeliveryOutcomeBody``).
///
/// How supporters are told (`variant`, `message-fallback`):
/// - variant 1, `smf-node`: the supporter's node subscribes (`m2m-alarm`) to the resource
///   ``alarmResource(instanceURI:supporter:)`` and gets a NOTIFY through
///   ``ServiceSIP/setState(package:resource:contentType:body:)``; it answers with a MESSAGE (or NOTIFY) of an
///   `application/smf-alarm-answer+json` body to the instance;
/// - variant 2: a SUBSCRIBE (`m2m-alarm`, alarm body) to the supporter's contact; the supporter answers with
///   a NOTIFY of an answer body, in that subscription or to the instance;
/// - a plain phone (`sip-phone`): a `text/plain` MESSAGE; the user replies with a MESSAGE such as `ok A-42`.
///
/// Durability: ``ServiceDurability/durable``: a selection is acknowledged only after its alarm is stored
/// (idempotently by alarm id), an answer is acknowledged (200) only after its step is stored. After a
/// restart the factory reads back the instance's open alarms and the component resumes them.
public struct SupporterNotifierFactory: ServiceComponentFactory {
    public let typeName = "supporter-notifier"
    public let durability = ServiceDurability.durable
    /// Where alarms and their steps are kept (what `smf alarms` lists).
    public let alarms: any AlarmStore
    /// Which alarms belong to which notifier instance.
    public let state: any SurveillanceStateStore

    /// Creates the factory over the node's stores.
    public init(alarms: any AlarmStore, state: any SurveillanceStateStore) {
        self.alarms = alarms
        self.state = state
    }

    /// Supporters' nodes subscribe to their alarm resources in `m2m-alarm` (variant 1).
    public var resourcePackages: [String] { [M2MEventPackage.alarm] }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let parameters = ComponentParameters(instance: instance)
        _ = try parameters.requiredString("variant")
        let variant = try parameters.choice("variant", AlarmDeliveryPolicy.Variant.allCases.map(\.rawValue), default: nil)
        let policy = AlarmDeliveryPolicy(
            variant: variant.flatMap(AlarmDeliveryPolicy.Variant.init(rawValue:)) ?? .notify,
            acceptTimeout: try parameters.duration("accept-timeout", default: .seconds(60)) ?? .seconds(60),
            retryInterval: try parameters.duration("retry-interval", default: .seconds(5)) ?? .seconds(5),
            messageFallback: try parameters.boolean("message-fallback", default: true))
        do {
            try policy.validate()
        } catch {
            throw ServicePlatformError(.invalidConfiguration, "service \(instance.serviceID) (supporter-notifier): \(error.message)")
        }
        var restored: [AlarmRecord] = []
        var missing: [String] = []
        for entry in try state.entries(scope: instance.stateScope) where entry.key.hasPrefix("alarm:") {
            let id = String(entry.key.dropFirst("alarm:".count))
            if let record = try alarms.record(id: id) {
                restored.append(record)
            } else {
                // Claimed, but the node stopped before the alarm was stored: its selection was never
                // acknowledged and comes again.
                missing.append(entry.key)
            }
        }
        if !missing.isEmpty { _ = try state.apply(missing.map { ($0, nil) }, scope: instance.stateScope, inputID: nil, at: .zero) }
        return SupporterNotifierComponent(instance: instance, policy: policy, alarms: alarms, state: state, restored: restored)
    }

    /// The resource a variant 1 supporter's node subscribes to (event package `m2m-alarm`) to get the alarms
    /// this instance sends it: the instance URI with a `supporter` parameter naming the supporter
    /// (`user@host`, `@` escaped), e.g. `sip:building-surveillance.notifier@127.0.0.1:5070;supporter=bob%40north.example`.
    public static func alarmResource(instanceURI: String, supporter: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()[]/:&+$")
        let key = SIPAddressKey(supporter).description
        return instanceURI + ";supporter=" + (key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)
    }

    /// The supporter an alarm resource names (its `supporter` parameter, decoded), or nil.
    public static func supporter(ofAlarmResource resource: String) -> String? {
        let parameters = resource.split(separator: ";").dropFirst()
        guard let parameter = parameters.first(where: { $0.lowercased().hasPrefix("supporter=") }) else { return nil }
        let value = parameter.dropFirst("supporter=".count)
        let decoded = String(value).removingPercentEncoding ?? String(value)
        return decoded.isEmpty ? nil : decoded
    }
}

/// A running notifier. See ``SupporterNotifierFactory``.
actor SupporterNotifierComponent: ServiceComponent {
    /// The event package alarms travel in (NOTIFY in variant 1, SUBSCRIBE in variant 2).
    static let alarmPackage = M2MEventPackage.alarm
    /// How long a variant 2 subscription to a supporter lasts (it is ended when the alarm ends).
    static let subscriptionExpiry = 3600
    /// How long to wait before trying again after the store failed.
    static let storeRetry = Duration.seconds(1)

    let instance: ServiceInstanceInfo
    let policy: AlarmDeliveryPolicy
    let alarms: any AlarmStore
    let state: any SurveillanceStateStore
    private var restored: [AlarmRecord]
    /// The open alarms this instance delivers.
    private(set) var deliveries: [String: AlarmDelivery] = [:]
    /// Timers to fire: when, and the machine's timer (passed back unchanged).
    private var timers: [(fireAt: Duration, timer: AlarmTimer)] = []
    /// Finished alarms whose outcome is not yet on `deliveries`.
    private var unreported: [String: AlarmRecord] = [:]
    private var retryReportsAt: Duration?
    /// Cancels for the variant 2 subscriptions of each alarm.
    private var subscriptions: [String: [@Sendable () async -> Void]] = [:]
    private var context: (any ServiceContext)?
    private let timer = ComponentTimer()
    private let tasks = ComponentTasks()

    init(instance: ServiceInstanceInfo, policy: AlarmDeliveryPolicy, alarms: any AlarmStore, state: any SurveillanceStateStore, restored: [AlarmRecord]) {
        self.instance = instance
        self.policy = policy
        self.alarms = alarms
        self.state = state
        self.restored = restored
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        let now = context.clock.now()
        for record in restored {
            if record.state == .open {
                var delivery = try record.delivery(policy: policy)
                let actions = delivery.resume(at: now)
                try alarms.record(actions, of: record.alarm.id)
                deliveries[record.alarm.id] = delivery
                await carryOut(actions, of: record.alarm.id, context: context)
            } else {
                unreported[record.alarm.id] = record
            }
        }
        restored = []
        await report(context)
        arm(context)
    }

    func stop() async {
        timer.stop()
        tasks.cancelAll()
        let cancels = subscriptions.values.flatMap { $0 }
        subscriptions = [:]
        for cancel in cancels { await cancel() }
        context = nil
    }

    /// E.g. `1 alarm open` (for `smf app show`).
    func summary() async -> String? { "\(deliveries.count) alarm\(deliveries.count == 1 ? "" : "s") open" }

    // MARK: - Selections

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(let port, _, let value) = input, port == "selections" else { return }
        guard let selection = value.decoded(as: SurveillanceMediaType.selection, on: port, logger: context.logger, SelectionBody.init(parsing:))
        else { return }
        let id = selection.alarm.id
        let recipients = selection.alarmRecipients
        let now = context.clock.now()
        if let delivery = deliveries[id] {
            // A fresh list for an alarm under way: used for its next round (same list: nothing to do).
            guard delivery.recipients != recipients else { return }
            guard try await event(id, context: context, { $0.selectionUpdated(recipients, at: now) }) else {
                throw ServicePlatformError(.runtime, "the new selection for alarm \(id) could not be stored")
            }
            return
        }
        // Known already (finished, or another instance's): nothing to do.
        guard try alarms.record(id: id) == nil else { return }
        var delivery: AlarmDelivery
        do {
            delivery = try AlarmDelivery(alarm: selection.alarm, recipients: recipients, policy: policy)
        } catch {
            context.logger.droppedValue(port, value, error.description)
            return
        }
        let actions = delivery.start(at: now)
        // Claimed first: an alarm stored but not claimed would never be resumed after a restart.
        _ = try state.apply([("alarm:" + id, Array("open".utf8))], scope: instance.stateScope, inputID: nil, at: now)
        try alarms.create(AlarmRecord(alarm: selection.alarm, steps: actions.recordedSteps, trace: value.trace))
        deliveries[id] = delivery
        context.logger.info("Alarm stored; contacting supporters", metadata: ["sdp.alarm": "\(id)", "sdp.recipients": "\(recipients.count)"])
        await carryOut(actions, of: id, context: context)
    }

    // MARK: - Answers

    /// A plain phone's reply (a `text/plain` MESSAGE) may come from outside the sub-community; it counts only when
    /// its sender was told about the alarm (checked in ``handle(_:context:)``).
    func admitsOutsider(_ request: ServiceDirectRequest) async -> Bool {
        request.method.uppercased() == "MESSAGE" && SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.text)
    }

    /// A supporter's node subscribing to its alarm resource (variant 1): only to its own
    /// (``SupporterNotifierFactory/alarmResource(instanceURI:supporter:)`` naming the SUBSCRIBE's sender).
    func admitSubscription(_ request: ServiceDirectRequest, resource: String) async -> ServiceDirectAnswer? {
        guard request.eventPackage == Self.alarmPackage else { return DirectAnswer.badEvent(request.eventPackage, expected: Self.alarmPackage) }
        guard let supporter = SupporterNotifierFactory.supporter(ofAlarmResource: resource) else {
            return DirectAnswer.notFound("subscribe to \(instance.uri);supporter=<your address of record> for your alarms")
        }
        guard SIPAddressKey(supporter) == SIPAddressKey(request.from) else {
            return DirectAnswer.forbidden("\(request.from) may watch only its own alarms, not \(supporter)'s")
        }
        return nil
    }

    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        let method = request.method.uppercased()
        switch method {
        case "MESSAGE" where SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.text):
            guard let reply = AlarmReply(text: request.text) else {
                return DirectAnswer.badRequest(
                    "not an answer: reply \"ok <alarm id>\" to accept or \"no <alarm id>\" to decline")
            }
            return await answer(reply.decision, alarmID: reply.reference, from: request.from, context: context)
        case "MESSAGE", "NOTIFY":
            if method == "NOTIFY", !request.hasEventPackage(Self.alarmPackage) {
                return DirectAnswer.badEvent(request.eventPackage, expected: Self.alarmPackage)
            }
            if method == "NOTIFY", request.body.isEmpty { return .ok }
            guard SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.alarmAnswer) else {
                return DirectAnswer.unsupportedMediaType(
                    request.contentType,
                    expected: method == "MESSAGE"
                        ? [SurveillanceMediaType.alarmAnswer, SurveillanceMediaType.text] : [SurveillanceMediaType.alarmAnswer])
            }
            let parsed: (alarmID: String, decision: AlarmDecision)
            do {
                parsed = try AlarmMessages.answer(fromBody: request.body)
            } catch {
                return DirectAnswer.badRequest(error.description)
            }
            return await answer(parsed.decision, alarmID: parsed.alarmID, from: request.from, context: context)
        default:
            return DirectAnswer.notAllowed(
                request.method, takes: "MESSAGE (a phone's reply or an alarm answer) and NOTIFY (m2m-alarm) of an alarm answer")
        }
    }

    /// The supporter of `delivery` that `sender` is (by AoR, or by the contact they were reached at).
    private func supporter(_ sender: String, in delivery: AlarmDelivery) -> String? {
        let key = SIPAddressKey(sender)
        if let supporter = delivery.contacted.first(where: { SIPAddressKey($0) == key }) { return supporter }
        return delivery.recipients.first { SIPAddressKey($0.contact) == key && delivery.contacted.contains($0.supporter) }?.supporter
    }

    private func answer(
        _ decision: AlarmDecision, alarmID reference: String?, from sender: String, context: any ServiceContext
    ) async -> ServiceDirectAnswer {
        let candidates = deliveries.values.compactMap { delivery in supporter(sender, in: delivery).map { (delivery, $0) } }
        let match: (AlarmDelivery, String)?
        if let reference {
            match = candidates.first { $0.0.alarm.id.lowercased() == reference.lowercased() }
        } else {
            match = candidates.max { ($0.0.lastContact(of: $0.1) ?? .zero) < ($1.0.lastContact(of: $1.1) ?? .zero) }
        }
        guard let (delivery, supporter) = match else {
            if let reference {
                if deliveries.keys.contains(where: { $0.lowercased() == reference.lowercased() }) {
                    return DirectAnswer.forbidden("\(sender) was never told about alarm \(reference)")
                }
                if (try? alarms.record(id: reference)) != nil { return .ok }
                return DirectAnswer.notFound("no alarm \(reference) is open here")
            }
            return DirectAnswer.notFound("no open alarm was sent to \(sender)")
        }
        let now = context.clock.now()
        do {
            guard try await event(delivery.alarm.id, context: context, { try $0.answered(by: supporter, decision, at: now) }) else {
                return DirectAnswer.serverError("the answer could not be stored; send it again")
            }
        } catch {
            return DirectAnswer.forbidden("\(error)")
        }
        return .ok
    }

    // MARK: - Driving the machine

    /// Runs one event on alarm `id`'s machine: stores the steps it produced, then carries out the other
    /// actions. Returns false (the machine unchanged) when the steps could not be stored; nil machine: true.
    private func event(
        _ id: String, context: any ServiceContext, _ change: (inout AlarmDelivery) throws -> [AlarmDeliveryAction]
    ) async throws -> Bool {
        guard var delivery = deliveries[id] else { return true }
        let actions = try change(&delivery)
        do {
            try alarms.record(actions, of: id)
        } catch {
            context.logger.info("An alarm step could not be stored", metadata: ["sdp.alarm": "\(id)", "sdp.problem": "\(error)"])
            return false
        }
        deliveries[id] = delivery
        await carryOut(actions, of: id, context: context)
        return true
    }

    /// Carries out the actions other than `record` (already stored).
    private func carryOut(_ actions: [AlarmDeliveryAction], of id: String, context: any ServiceContext) async {
        for action in actions {
            switch action {
            case .record:
                continue
            case .send(let dispatch):
                await send(dispatch, context: context)
            case .scheduleTimer(let alarmTimer):
                timers.append((alarmTimer.deadline, alarmTimer))
            case .alertOwners(let alert):
                await context.notice("\(instance.application): \(alert.message)")
            case .requestSelection:
                // The selector sends a fresh list by itself when its inputs change (no wire leads back to it).
                context.logger.debug("Round ended; the next uses the selector's latest list", metadata: ["sdp.alarm": "\(id)"])
            case .finished:
                await finish(id, context: context)
            }
        }
        arm(context)
    }

    private func finish(_ id: String, context: any ServiceContext) async {
        guard let delivery = deliveries.removeValue(forKey: id) else { return }
        timers.removeAll { $0.timer.alarmID == id }
        let cancels = subscriptions.removeValue(forKey: id) ?? []
        for cancel in cancels { await cancel() }
        unreported[id] = AlarmRecord(alarm: delivery.alarm, steps: delivery.steps)
        await report(context)
    }

    /// Sends the outcomes not yet sent on `deliveries`, then forgets the alarms' claims.
    private func report(_ context: any ServiceContext) async {
        for (id, record) in unreported.sorted(by: { $0.key < $1.key }) {
            guard let outcome = DeliveryOutcomeBody(record) else { unreported[id] = nil; continue }
            do {
                try await context.emit(
                    ServiceValue(
                        id: "delivery:\(id)", contentType: SurveillanceMediaType.deliveryOutcome, body: outcome.encoded(),
                        attributes: ["building": record.alarm.building, "kind": record.alarm.kind]),
                    on: "deliveries")
                _ = try state.apply([("alarm:" + id, nil)], scope: instance.stateScope, inputID: nil, at: context.clock.now())
                unreported[id] = nil
            } catch {
                context.logger.info("An alarm's outcome could not be sent on", metadata: ["sdp.alarm": "\(id)", "sdp.problem": "\(error)"])
                retryReportsAt = context.clock.now() + Self.storeRetry
            }
        }
    }

    // MARK: - Sending

    /// Contacts a supporter. A variant 1 NOTIFY is committed and handed to the transport before this returns — so
    /// before the runtime acknowledges the selection that brought the alarm (a commit of its own) — and its result is
    /// recorded right after; a MESSAGE or a SUBSCRIBE waits for its answer in a task.
    private func send(_ dispatch: AlarmDispatch, context: any ServiceContext) async {
        let sip = context.sip
        let id = dispatch.alarm.id
        let attempt = dispatch.attempt
        switch dispatch.channel {
        case .message:
            let text = AlarmMessages.text(for: dispatch.alarm)
            tasks.run { [weak self] in
                let result = await sip.sendMessage(to: dispatch.recipient.contact, contentType: SurveillanceMediaType.text, body: Array(text.utf8))
                await self?.delivered(id, attempt: attempt, result)
            }
        case .notify:
            let resource = SupporterNotifierFactory.alarmResource(instanceURI: instance.uri, supporter: dispatch.recipient.supporter)
            let result: ServiceDeliveryResult
            do {
                try await sip.setState(
                    package: Self.alarmPackage, resource: resource, contentType: SurveillanceMediaType.alarm,
                    body: AlarmMessages.body(for: dispatch.alarm))
                result = .delivered(statusCode: 200)
            } catch {
                result = .failed(statusCode: nil, reason: "the alarm state could not be set: \(error)")
            }
            tasks.run { [weak self] in await self?.delivered(id, attempt: attempt, result) }
        case .subscribe:
            let supporter = dispatch.recipient.supporter
            tasks.run { [weak self] in
                let (updates, cancel) = await sip.subscribe(
                    to: dispatch.recipient.contact, package: Self.alarmPackage, contentType: SurveillanceMediaType.alarm,
                    body: AlarmMessages.body(for: dispatch.alarm), expires: Self.subscriptionExpiry)
                guard let self, await self.keep(cancel, for: id) else {
                    await cancel()
                    return
                }
                var settled = false
                for await update in updates {
                    switch update {
                    case .notification(let contentType, let body):
                        if !settled {
                            settled = true
                            await self.delivered(id, attempt: attempt, .delivered(statusCode: 200))
                        }
                        if SurveillanceMediaType.matches(contentType, SurveillanceMediaType.alarmAnswer),
                            let (alarmID, decision) = try? AlarmMessages.answer(fromBody: body), alarmID.lowercased() == id.lowercased()
                        {
                            await self.answered(id, by: supporter, decision)
                        }
                    case .terminated(let reason):
                        // Nothing more comes in this subscription; a late answer may still come to the instance.
                        if !settled { await self.delivered(id, attempt: attempt, .failed(statusCode: nil, reason: reason)) }
                        return
                    }
                }
                if !settled { await self.delivered(id, attempt: attempt, .failed(statusCode: nil, reason: "the subscription ended unanswered")) }
            }
        }
    }

    /// Keeps a subscription's cancel until the alarm ends; false when it already ended.
    private func keep(_ cancel: @escaping @Sendable () async -> Void, for id: String) -> Bool {
        guard deliveries[id] != nil else { return false }
        subscriptions[id, default: []].append(cancel)
        return true
    }

    private func delivered(_ id: String, attempt: Int, _ result: ServiceDeliveryResult) async {
        guard let context else { return }
        let now = context.clock.now()
        let outcome: AlarmDeliveryResult
        switch result {
        case .delivered: outcome = .delivered
        case .failed(let status, let reason): outcome = .failed(status.map { "\($0) \(reason)" } ?? reason)
        }
        // A result that cannot be stored is lost like one lost with the node: the accept timeout still acts.
        _ = try? await event(id, context: context) { $0.deliveryResult(attempt: attempt, outcome, at: now) }
    }

    /// An answer that came in a variant 2 subscription's NOTIFY.
    private func answered(_ id: String, by supporter: String, _ decision: AlarmDecision) async {
        guard let context else { return }
        let now = context.clock.now()
        _ = try? await event(id, context: context) { try $0.answered(by: supporter, decision, at: now) }
    }

    // MARK: - Timers

    func timersDue() async {
        guard let context else { return }
        let now = context.clock.now()
        let due = timers.filter { $0.fireAt <= now }.sorted { $0.fireAt < $1.fireAt }
        timers.removeAll { $0.fireAt <= now }
        for entry in due {
            let stored = (try? await event(entry.timer.alarmID, context: context) { $0.timerFired(entry.timer, at: now) }) ?? false
            if !stored { timers.append((now + Self.storeRetry, entry.timer)) }
        }
        if let retryReportsAt, retryReportsAt <= now {
            self.retryReportsAt = nil
            await report(context)
        }
        arm(context)
    }

    private func arm(_ context: any ServiceContext) {
        let next = (timers.map(\.fireAt) + [retryReportsAt].compactMap { $0 }).min()
        guard let next else { return }
        timer.arm(at: next, clock: context.clock) { [weak self] in await self?.timersDue() }
    }
}
