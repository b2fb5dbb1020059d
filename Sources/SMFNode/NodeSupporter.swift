import Composition
import ControlChannel
import Foundation
import Logging
import Presence
import ServicePlatform
import Rules
import SIPCore
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage
import Surveillance

/// A supporter's own node (docs/surveillance.md "A supporter's node"): it registers its supporter with an
/// application's registry, reports availability and location to its availability service, takes the alarms the
/// notifier sends it, keeps them in its inbox (SQLite, before it answers 200) and answers them — by `smf alarm
/// answer`, or at once under `smf run --alarm-auto-answer`.
///
/// - Variant 1: on registering, the node SUBSCRIBEs (`m2m-alarm`) to the notifier's alarm resource for its address
///   of record (`<notifier instance URI>;supporter=<user>%40<host>`), keeps that subscription (following the
///   notifier when it moves), and stores each alarm a NOTIFY brings before answering it 200. Its answer is a MESSAGE
///   of an `application/smf-alarm-answer+json` body to the notifier instance.
/// - Variant 2: the notifier SUBSCRIBEs to the node's address of record with the alarm in the body; the node stores
///   it before accepting the SUBSCRIBE and answers with a NOTIFY carrying the answer body in that subscription.
actor NodeSupporter {
    /// The package alarms come in.
    static let package = M2MEventPackage.alarm

    private let endpoint: SIPEndpoint
    private let transport: SIPTransport
    private let services: ServiceRuntime
    private let store: SQLiteSupporterStore
    private let aor: SIPURI
    private let autoAnswer: AlarmAutoAnswer
    private let logger: Logger
    private var watches: [String: Task<Void, Never>] = [:]
    /// Variant 2: the notifier's subscription of each Call-ID (from the endpoint's observer).
    private var subscriptions: [String: SIPSubscriptionKey] = [:]
    private var followers: [Int: AsyncStream<SupporterAlarmRow>.Continuation] = [:]
    private var nextFollower = 0
    private var isRunning = false

    init(
        endpoint: SIPEndpoint, transport: SIPTransport, services: ServiceRuntime, store: SQLiteSupporterStore, aor: SIPURI,
        autoAnswer: AlarmAutoAnswer, logger: Logger
    ) {
        self.endpoint = endpoint
        self.transport = transport
        self.services = services
        self.store = store
        self.aor = aor
        self.autoAnswer = autoAnswer
        self.logger = logger
    }

    /// Takes variant-2 SUBSCRIBEs and watches the alarm resources of the applications registered for.
    func start() async {
        isRunning = true
        await services.routeOutsideSubscriptions(
            of: Self.package,
            admission: { [weak self] request in await self?.admitAlarmSubscribe(request) },
            changes: { [weak self] change in await self?.subscriptionChanged(change) })
        for application in (try? store.applications()) ?? [] where application.notifier != nil {
            watch(application.application)
        }
    }

    func stop() {
        isRunning = false
        for (_, task) in watches { task.cancel() }
        watches = [:]
        for (_, follower) in followers { follower.finish() }
        followers = [:]
    }

    private var nowNanoseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    // MARK: - Registering

    /// Registers this node's supporter with the application's registry (a PUBLISH `m2m-supporter-registration`
    /// from the node's AoR); on success it is stored and, for an `smf-node` supporter of an application, the
    /// notifier's alarm resource is watched.
    func register(_ arguments: SupporterRegisterArguments) async throws -> SupporterRegisterResult {
        guard let phone = SupporterPhoneKind(rawValue: arguments.phone) else {
            throw ControlError(.badArgument, "--phone must be smf-node or sip-phone, not '\(arguments.phone)'")
        }
        if phone == .sipPhone, arguments.contact == nil {
            throw ControlError(.badArgument, "a sip-phone supporter needs --contact, the phone's SIP URI")
        }
        let located = try await locate(arguments.application, to: arguments.to, type: "supporter-registry")
        let body = SupporterRegistrationBody(
            supporter: aor.description, kinds: arguments.kinds, buildings: arguments.buildings, contact: arguments.contact ?? aor.description,
            phoneKind: phone, expires: arguments.expires.map { .seconds($0) })
        let outcome = await NodeRequests.send(
            .publish, to: located.target, from: aor, event: M2MEventPackage.supporterRegistration,
            body: SIPEventBody(contentType: SurveillanceMediaType.registration, bytes: body.encoded()), expires: arguments.expires,
            transport: transport)
        guard outcome.isSuccess else {
            return SupporterRegisterResult(registry: located.target.description, statusCode: outcome.statusCode, reason: outcome.reason, watching: nil)
        }
        let application = arguments.application ?? located.target.user ?? located.target.description
        let notifier = phone == .smfNode ? located.record?.services(ofType: "supporter-notifier").first?.uri : nil
        do {
            if arguments.expires == 0 {
                try store.removeApplication(application)
            } else {
                try store.saveApplication(
                    SupporterApplicationRow(
                        application: application, registry: located.target.description, notifier: notifier, registration: body.encoded(),
                        registeredAt: nowNanoseconds))
            }
        } catch {
            throw ControlError(.internalError, "the registry took the registration but this node could not store it: \(error)")
        }
        var watching: String?
        if arguments.expires == 0 {
            watches.removeValue(forKey: application)?.cancel()
        } else if let notifier {
            watching = SupporterNotifierFactory.alarmResource(instanceURI: notifier, supporter: aor.description)
            watch(application)
        }
        return SupporterRegisterResult(registry: located.target.description, statusCode: outcome.statusCode, reason: outcome.reason, watching: watching)
    }

    /// Sends the supporter's availability (PIDF, with a PIDF-LO point when a location is given) to the application's
    /// availability service.
    func reportAvailability(_ arguments: SupporterAvailabilityArguments) async throws -> RequestOutcome {
        let located = try await locate(arguments.application, to: arguments.to, type: "supporter-availability")
        let document = try SMFNode.presenceDocument(
            PresencePublishArguments(
                status: arguments.status, note: arguments.note, activities: arguments.activities, latitude: arguments.latitude,
                longitude: arguments.longitude),
            entity: aor)
        let body: SIPEventBody
        do {
            body = try document.eventBody()
        } catch {
            throw ControlError(.invalidPresence, "the availability cannot be written as PIDF: \(error)")
        }
        return await NodeRequests.send(
            .publish, to: located.target, from: aor, event: "presence", body: body, expires: 3600, transport: transport)
    }

    /// The instance to send to: `to` as given, else the first service of `type` of `application` (found where it runs).
    func locate(_ application: String?, to: String?, type: String) async throws -> (target: SIPURI, record: ServiceApplicationRecord?) {
        try await NodeRequests.locate(application, to: to, type: type, services: services)
    }

    // MARK: - Variant 1: watching the notifier

    private func watch(_ application: String) {
        watches[application]?.cancel()
        watches[application] = Task { [weak self] in await self?.watchForever(application) }
    }

    /// Keeps a subscription to the notifier's alarm resource for this node's AoR: subscribes, and after it ends
    /// subscribes again (to where the notifier runs now) a second later, until the registration is removed.
    private func watchForever(_ application: String) async {
        while !Task.isCancelled, isRunning {
            guard let row = (try? store.applications())?.first(where: { $0.application == application }), let stored = row.notifier else { return }
            var current = stored
            if let located = await services.locate(application: application)?.services(ofType: "supporter-notifier").first?.uri, located != stored {
                current = located
                var moved = row
                moved.notifier = located
                try? store.saveApplication(moved)
            }
            let notifier = current
            guard let target = SIPURI(notifier), let resource = SIPURI(SupporterNotifierFactory.alarmResource(instanceURI: notifier, supporter: aor.description))
            else { return }
            do {
                let handle = try await endpoint.subscribe(
                    to: target, resource: resource, subscriber: aor, event: SIPEventHeader(package: Self.package), expires: 600,
                    retryDelay: .seconds(1)
                ) { [weak self] notification, _ in
                    guard let self else { return SIPRequestRefusal(statusCode: 481, reason: "Gone") }
                    return await self.alarmNotified(notification, notifier: notifier)
                }
                for await update in handle.updates {
                    if case .terminated(let termination) = update {
                        logger.info("alarm subscription ended", metadata: ["smf.app": "\(application)", "smf.termination": "\(termination)"])
                    }
                }
            } catch {
                logger.info("cannot subscribe to the notifier's alarms", metadata: ["smf.app": "\(application)", "smf.error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// A NOTIFY of the alarm resource: the alarm is stored before the 200.
    private func alarmNotified(_ notification: SIPSubscriberNotification, notifier: String) async -> SIPRequestRefusal? {
        guard let body = notification.body, !body.bytes.isEmpty else { return nil }
        guard body.mediaType == SurveillanceMediaType.alarm else {
            return SIPRequestRefusal(statusCode: 415, reason: "Not \(SurveillanceMediaType.alarm)")
        }
        return take(body.bytes, notifier: notifier, channel: "NOTIFY", callID: nil)
    }

    // MARK: - Variant 2: the notifier's SUBSCRIBE

    /// A SUBSCRIBE `m2m-alarm` to this node carrying an alarm: stored before it is accepted. Any other SUBSCRIBE of
    /// the package (a watcher of the node's own alarm state) passes.
    private func admitAlarmSubscribe(_ request: SIPRequest) async -> SIPRequestRefusal? {
        guard let body = request.eventBody, SIPEventBody.mediaType(of: body.contentType) == SurveillanceMediaType.alarm else { return nil }
        let notifier = request.headers.from.map { SIPURI(scheme: $0.uri.scheme, user: $0.uri.user, host: $0.uri.host, port: $0.uri.port).description } ?? ""
        return take(body.bytes, notifier: notifier, channel: "SUBSCRIBE", callID: request.headers.callID)
    }

    private func subscriptionChanged(_ change: SIPNotifierSubscriptionChange) {
        switch change.kind {
        case .removed: subscriptions[change.key.dialogID.callID] = nil
        default: subscriptions[change.key.dialogID.callID] = change.key
        }
    }

    // MARK: - The inbox

    /// Stores an alarm (nothing is answered 2xx before); a new one goes to the followers and, under an automatic
    /// policy, is answered.
    private func take(_ bytes: [UInt8], notifier: String, channel: String, callID: String?) -> SIPRequestRefusal? {
        let alarm: Alarm
        do {
            alarm = try AlarmMessages.alarm(fromBody: bytes)
        } catch {
            return SIPRequestRefusal(statusCode: 400, reason: DirectReason.phrase(error.description))
        }
        let row: SupporterAlarmRow
        let before: SupporterAlarmRow?
        do {
            before = try store.alarm(id: alarm.id)
            row = try store.addAlarm(
                SupporterAlarmRow(id: alarm.id, notifier: notifier, channel: channel, receivedAt: nowNanoseconds, alarm: bytes, callID: callID))
        } catch {
            logger.error("cannot store an alarm; refusing it", metadata: ["smf.alarm": "\(alarm.id)", "smf.error": "\(error)"])
            return SIPRequestRefusal(statusCode: 500, reason: "Cannot Store The Alarm", retryAfter: 1)
        }
        guard before == nil else { return nil }
        logger.notice("alarm received", metadata: ["smf.alarm": "\(alarm.id)", "smf.channel": "\(channel)", "smf.notifier": "\(notifier)"])
        for (_, follower) in followers { follower.yield(row) }
        if let decision = AlarmDecision(rawValue: autoAnswer.rawValue) {
            Task { [weak self] in _ = try? await self?.answer(alarm.id, decision) }
        }
        return nil
    }

    /// Answers an alarm of the inbox: the answer is stored first, then sent — in variant 2 as a NOTIFY in the
    /// notifier's subscription, else (or when that fails) as a MESSAGE to the notifier instance.
    func answer(_ id: String, _ decision: AlarmDecision) async throws -> AlarmAnswerResult {
        guard let row = try store.alarm(id: id) else { throw ControlError(.notFound, "no alarm \(id) in this node's inbox (smf alarm inbox lists them)") }
        try store.setAnswer(row.id, answer: decision.rawValue, at: nowNanoseconds, result: nil)
        let body = SIPEventBody(contentType: SurveillanceMediaType.alarmAnswer, bytes: AlarmMessages.answerBody(alarmID: row.id, decision))
        var delivered = false
        var result = ""
        if row.channel == "SUBSCRIBE", let callID = row.callID, let key = await subscription(callID, within: .seconds(3)) {
            switch await endpoint.notify(key, body: body) {
            case .delivered(let statusCode):
                delivered = true
                result = "delivered \(statusCode) (NOTIFY in the notifier's subscription)"
            case .refused(let statusCode, _): result = "NOTIFY refused \(statusCode); "
            case .failed(let reason): result = "NOTIFY failed: \(reason); "
            case .gone: result = "the notifier's subscription is gone; "
            }
        }
        if !delivered {
            guard let target = SIPURI(row.notifier) else { throw ControlError(.badArgument, "the alarm's notifier '\(row.notifier)' is not a SIP URI") }
            do {
                switch try await endpoint.sendMessage(to: target, body: body) {
                case .delivered(let statusCode):
                    delivered = true
                    result += "delivered \(statusCode) (MESSAGE to \(target))"
                case .rejected(let statusCode, let reason): result += "MESSAGE to \(target) refused: \(statusCode) \(reason)"
                case .timedOut: result += "MESSAGE to \(target): no answer"
                }
            } catch {
                result += "MESSAGE to \(target) not sent: \(error)"
            }
        }
        try? store.setAnswer(row.id, answer: decision.rawValue, at: nowNanoseconds, result: result)
        logger.notice("alarm answered", metadata: ["smf.alarm": "\(row.id)", "smf.answer": "\(decision.rawValue)", "smf.result": "\(result)"])
        return AlarmAnswerResult(id: row.id, decision: decision.rawValue, delivered: delivered, result: result)
    }

    private func subscription(_ callID: String, within limit: Duration) async -> SIPSubscriptionKey? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let key = subscriptions[callID] { return key }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return subscriptions[callID]
    }

    func inbox(_ arguments: AlarmInboxArguments) throws -> [InboxAlarm] {
        try store.alarms(after: arguments.after, limit: arguments.limit).map(Self.view)
    }

    /// Alarms stored from now on, until ``stopFollowing(_:)``.
    func follow() -> (id: Int, alarms: AsyncStream<SupporterAlarmRow>) {
        let (stream, continuation) = AsyncStream.makeStream(of: SupporterAlarmRow.self, bufferingPolicy: .bufferingNewest(1000))
        nextFollower += 1
        followers[nextFollower] = continuation
        return (nextFollower, stream)
    }

    func stopFollowing(_ id: Int) {
        followers.removeValue(forKey: id)?.finish()
    }

    static func view(_ row: SupporterAlarmRow) -> InboxAlarm {
        let alarm = try? AlarmMessages.alarm(fromBody: row.alarm)
        return InboxAlarm(
            id: row.id, sequence: row.sequence, notifier: row.notifier, channel: row.channel, receivedAtNanoseconds: row.receivedAt,
            kind: alarm?.kind ?? "?", severity: alarm?.severity.rawValue ?? "?", building: alarm?.building ?? "?",
            latitude: alarm?.buildingLocation?.latitude, longitude: alarm?.buildingLocation?.longitude, summary: alarm?.summary ?? "",
            raisedAtNanoseconds: alarm?.raisedAt.wholeNanoseconds ?? 0, answer: row.answer, answeredAtNanoseconds: row.answeredAt,
            answerResult: row.answerResult)
    }
}

/// A reason phrase from an error text: one line, at most 200 characters.
enum DirectReason {
    static func phrase(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        return line.count > 200 ? String(line.prefix(197)) + "..." : line
    }
}

/// One-off requests a node sends for its commands (a sensor's PUBLISH, a supporter's registration), and where an
/// application's instance is.
enum NodeRequests {
    /// Sends one request outside any dialog and waits for its final answer (retransmitted over UDP by the
    /// transaction layer, RFC 3261 §17.1.2; over TCP when large).
    static func send(
        _ method: SIPMethod, to target: SIPURI, from sender: SIPURI, event: String?, body: SIPEventBody, expires: Int?,
        transport: SIPTransport
    ) async -> RequestOutcome {
        var generator = SystemRandomNumberGenerator()
        guard let destination = SIPEndpoint.destination(for: target) else {
            return RequestOutcome(target: target.description, statusCode: nil, reason: "'\(target)' names no host to send to")
        }
        let request = make(method, to: target, from: sender, event: event, body: body, expires: expires, generator: &generator)
        do {
            let response = try await transport.send(request, to: destination)
            return RequestOutcome(target: target.description, statusCode: response.statusCode, reason: response.reasonPhrase)
        } catch {
            return RequestOutcome(target: target.description, statusCode: nil, reason: "\(error)")
        }
    }

    /// A request outside any dialog: a pager MESSAGE's headers (RFC 3428 §4) with its method, `Event` and `Expires`.
    static func make(
        _ method: SIPMethod, to target: SIPURI, from sender: SIPURI, event: String?, body: SIPEventBody, expires: Int?,
        generator: inout SystemRandomNumberGenerator
    ) -> SIPRequest {
        var request = SIPPagerMessage.make(to: target, from: sender, body: body, using: &generator)
        request.method = method
        request.headers.cseq = SIPCSeq(sequence: 1, method: method)
        if let event { request.headers.add(name: "Event", value: event) }
        if let expires { request.headers.expires = expires }
        return request
    }

    /// `to` when given, else the first service of `type` of `application`, found where it runs (this node's part,
    /// else the application record its deployer keeps in the community's overlay).
    static func locate(
        _ application: String?, to: String?, type: String, services: ServiceRuntime
    ) async throws -> (target: SIPURI, record: ServiceApplicationRecord?) {
        if let to {
            guard let uri = SIPURI(to), uri.isSIP, !uri.host.isEmpty else {
                throw ControlError(.badArgument, "'\(to)' is not a sip: URI with a host")
            }
            let record = await application.asyncFlatMap { await services.locate(application: $0) }
            return (uri, record)
        }
        guard let application else { throw ControlError(.badArgument, "name the application (--app NAME) or the instance (--to URI)") }
        guard let record = await services.locate(application: application) else {
            throw ControlError(
                .notFound, "no application '\(application)' is known here or in the overlay of this node's sub-communities (is it deployed?)")
        }
        guard let uri = record.services(ofType: type).first.flatMap({ SIPURI($0.uri) }) else {
            throw ControlError(.notFound, "application '\(application)' has no \(type) service")
        }
        return (uri, record)
    }
}

extension Optional {
    func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
