import SIPCore
import SIPEvents
import SIPSyntax
import SMFTestSupport

enum Fixtures {
    static let alice = SIPURI(user: "alice", host: "atlanta.example.com")
    static let aliceContact = SIPURI(user: "alice", host: "192.0.2.10", port: 5060)
    static let sensor = SIPURI(user: "smoke-7", host: "house-12.example.com")
    static let notifierContact = SIPURI(user: "notifier", host: "192.0.2.20", port: 5060)

    static let alarm = SIPBasicEventPackage(
        name: "m2m-alarm", acceptedContentTypes: ["application/m2m-alarm+json"],
        expiresPolicy: SIPExpiresPolicy(defaultSeconds: 600, minimumSeconds: 60, maximumSeconds: 3600)
    )

    static func body(_ text: String) -> SIPEventBody { SIPEventBody(contentType: "application/m2m-alarm+json", text: text) }

    /// An out-of-dialog SUBSCRIBE as a subscriber sends it.
    static func subscribe(
        event: String = "m2m-alarm", expires: Int? = 600, callID: String = "sub-1@atlanta", fromTag: String = "ftag", cseq: UInt32 = 1,
        toTag: String? = nil, contact: Bool = true
    ) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Via", value: "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK\(fromTag)\(cseq)")
        headers.add(name: "Max-Forwards", value: "70")
        headers.add(name: "To", value: "<\(sensor)>" + (toTag.map { ";tag=\($0)" } ?? ""))
        headers.add(name: "From", value: "<\(alice)>;tag=\(fromTag)")
        headers.add(name: "Call-ID", value: callID)
        headers.add(name: "CSeq", value: "\(cseq) SUBSCRIBE")
        if contact { headers.add(name: "Contact", value: "<\(aliceContact)>") }
        headers.add(name: "Event", value: event)
        if let expires { headers.add(name: "Expires", value: String(expires)) }
        return SIPRequest(method: .subscribe, uri: sensor, headers: headers)
    }

    /// A response as a UAS builds it.
    static func response(_ status: Int, to request: SIPRequest, toTag: String? = "ntag", extra: [(String, String)] = []) -> SIPResponse {
        var response = SIPEventMessages.response(status, to: request, toTag: toTag)
        for (name, value) in extra { response.headers.add(name: name, value: value) }
        return response
    }
}

extension SIPNotifierAction {
    var notify: SIPRequest? {
        if case .sendNotify(let request, _) = self { request } else { nil }
    }
    var response: SIPResponse? {
        if case .sendResponse(let response) = self { response } else { nil }
    }
}

extension [SIPNotifierAction] {
    var notifies: [SIPRequest] { compactMap(\.notify) }
    var responses: [SIPResponse] { compactMap(\.response) }
}

extension SIPSubscriberAction {
    var request: SIPRequest? {
        if case .sendRequest(let request) = self { request } else { nil }
    }
    var response: SIPResponse? {
        if case .sendResponse(let response) = self { response } else { nil }
    }
}

extension [SIPSubscriberAction] {
    var requests: [SIPRequest] { compactMap(\.request) }
    var responses: [SIPResponse] { compactMap(\.response) }
    var notifications: [SIPSubscriberNotification] {
        compactMap { if case .deliverNotification(let n) = $0 { n } else { nil } }
    }
    var terminations: [SIPSubscriberTermination] {
        compactMap { if case .reportTermination(let t) = $0 { t } else { nil } }
    }
    func scheduled(_ timer: SIPSubscriberTimer) -> Duration? {
        for action in self { if case .scheduleTimer(timer, let after) = action { return after } }
        return nil
    }
}

/// Drives a notifier through virtual time, carrying out its timer actions.
struct NotifierHarness {
    var notifier: SIPNotifier
    var timers = ManualTimerWheel<SIPNotifierTimer>()
    var random = SplitMix64()
    private(set) var log: [(at: Duration, action: SIPNotifierAction)] = []

    init(packages: [any SIPEventPackage] = [Fixtures.alarm]) {
        notifier = SIPNotifier(packages: packages, localContact: Fixtures.notifierContact)
    }

    var now: Duration { timers.now }

    @discardableResult
    mutating func on(_ event: (inout SIPNotifier, Duration, inout SplitMix64) -> [SIPNotifierAction]) -> [SIPNotifierAction] {
        let actions = event(&notifier, timers.now, &random)
        carryOut(actions)
        return actions
    }

    @discardableResult
    mutating func on(_ event: (inout SIPNotifier, Duration) -> [SIPNotifierAction]) -> [SIPNotifierAction] {
        on { notifier, now, _ in event(&notifier, now) }
    }

    /// Advances to `instant`, firing due timers; returns what they did.
    @discardableResult
    mutating func advance(to instant: Duration) -> [SIPNotifierAction] {
        var all: [SIPNotifierAction] = []
        while let timer = timers.popNextDue(notAfter: instant) {
            let actions = notifier.timerFired(timer, now: timers.now)
            carryOut(actions)
            all += actions
        }
        timers.settle(at: instant)
        return all
    }

    mutating func carryOut(_ actions: [SIPNotifierAction]) {
        for action in actions {
            log.append((timers.now, action))
            switch action {
            case .scheduleTimer(let timer, let delay): timers.schedule(timer, after: delay)
            case .cancelTimer(let timer): timers.cancel(timer)
            default: break
            }
        }
    }

    var notifyLog: [(at: Duration, notify: SIPRequest)] {
        log.compactMap { entry in entry.action.notify.map { (entry.at, $0) } }
    }
}
