public import SIPCore
public import SIPSyntax

/// What a subscriber wants: which resource, which package, how long, where (RFC 6665 §4.1).
public struct SIPSubscriberConfiguration: Hashable, Sendable {
    /// Request-URI of the initial SUBSCRIBE.
    public var requestURI: SIPURI
    /// The watched resource (To).
    public var resource: SIPURI
    /// Our address of record (From).
    public var subscriber: SIPURI
    /// Our Contact: where NOTIFYs come (RFC 6665 §4.1.2.1).
    public var localContact: SIPURI
    /// Package and optional `id`.
    public var event: SIPEventHeader
    /// More `Event` parameters sent with every SUBSCRIBE (e.g. filters such as `building=house-12`);
    /// they are not part of the subscription's identity, which is package and `id` (RFC 6665 §8.2.1).
    public var eventParameters: [String: String]
    /// Requested duration in seconds.
    public var expires: Int
    /// Body types we take (`Accept`); empty leaves the header out.
    public var accept: [String]
    /// Wait before re-subscribing after `probation`/`giveup` without `retry-after`, a 408, a
    /// timeout or a NOTIFY that never came.
    public var retryDelay: Duration
    /// Timer N: how long to wait for the first NOTIFY after sending SUBSCRIBE, 64·T1
    /// (RFC 6665 §4.1.2.4).
    public var notifyWait: Duration
    /// Refresh at a random fraction in this range of the granted duration …
    public var refreshWindow: ClosedRange<Double>
    /// … but never later than this before expiry.
    public var refreshMargin: Duration
    /// The body of the initial SUBSCRIBE (RFC 6665 §4.1.2.1: the package says what it means), if any;
    /// refreshes carry none.
    public var body: SIPEventBody?

    public init(
        requestURI: SIPURI, resource: SIPURI? = nil, subscriber: SIPURI, localContact: SIPURI, event: SIPEventHeader,
        expires: Int = 3600, accept: [String] = [], retryDelay: Duration = .seconds(30), notifyWait: Duration = .seconds(32),
        refreshWindow: ClosedRange<Double> = 0.8...0.9, refreshMargin: Duration = .seconds(5), eventParameters: [String: String] = [:]
    ) {
        self.eventParameters = eventParameters
        self.requestURI = requestURI
        self.resource = resource ?? requestURI
        self.subscriber = subscriber
        self.localContact = localContact
        self.event = event
        self.expires = expires
        self.accept = accept
        self.retryDelay = retryDelay
        self.notifyWait = notifyWait
        self.refreshWindow = refreshWindow
        self.refreshMargin = refreshMargin
    }

    /// The `Event` value SUBSCRIBEs carry: the package, `id`, then ``eventParameters`` sorted by name.
    public var eventHeaderValue: String {
        ([event.description] + eventParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: ";")
    }
}

/// Timers a subscriber asks its owner to run.
public enum SIPSubscriberTimer: Hashable, Sendable, Codable {
    /// Time to refresh the subscription of this dialog.
    case refresh(SIPDialogID)
    /// The subscription of this dialog ran out without a successful refresh.
    case expiry(SIPDialogID)
    /// Timer N: no NOTIFY arrived after the SUBSCRIBE (RFC 6665 §4.1.2.4).
    case waitForNotify
    /// Time to subscribe again from scratch.
    case retry
}

/// A NOTIFY's content handed to the application.
public struct SIPSubscriberNotification: Hashable, Sendable {
    /// The dialog (one per fork) it arrived on.
    public var dialogID: SIPDialogID
    public var state: SIPSubscriptionState
    public var body: SIPEventBody?
}

/// How a subscription ended for good.
public enum SIPSubscriberTermination: Hashable, Sendable {
    /// We unsubscribed.
    case unsubscribed
    /// The notifier refused the SUBSCRIBE with this status (e.g. 403, 489) (RFC 6665 §4.1.2.1).
    case refused(statusCode: Int)
    /// The notifier ended it with a reason that forbids retrying (rejected, noresource, invariant).
    case terminated(SIPSubscriptionTerminationReason)
}

/// What a subscriber asks its owner to do, in order.
public enum SIPSubscriberAction: Hashable, Sendable {
    /// Send this SUBSCRIBE (initial or in-dialog) through a client transaction, after adding a
    /// top Via with a fresh branch; report its response or timeout back.
    case sendRequest(SIPRequest)
    /// Answer the NOTIFY being processed.
    case sendResponse(SIPResponse)
    case scheduleTimer(SIPSubscriberTimer, after: Duration)
    case cancelTimer(SIPSubscriberTimer)
    /// Hand a notification to the application.
    case deliverNotification(SIPSubscriberNotification)
    /// The subscription is over and will not be retried.
    case reportTermination(SIPSubscriberTermination)
}

/// The subscriber side of RFC 6665 for one logical subscription, with one dialog per notifier
/// that answers (forks, §4.1.2.4 and §4.1.3).
///
/// It sends the SUBSCRIBE; a 2xx or a NOTIFY (even one that arrives before the 2xx) creates a
/// dialog; NOTIFYs are answered 200 and delivered; `expires` in Subscription-State replaces the
/// granted duration; refreshes go at a random point before expiry; 423 retries with
/// Min-Expires; 481/408/timeout of a refresh and `terminated` with a retryable reason start a new
/// subscription (new Call-ID) after the right delay; `rejected`/`noresource`/`invariant` end it.
///
/// Pure: events carry `now` and a random source; timers are actions.
public struct SIPSubscriberSubscription: Hashable, Sendable {
    /// One dialog of the subscription.
    public struct DialogUsage: Hashable, Sendable, Codable {
        public internal(set) var dialog: SIPDialog
        /// The last Subscription-State value received; `nil` before the first NOTIFY.
        public internal(set) var state: SIPSubscriptionState.Value?
        /// When it expires unless refreshed.
        public internal(set) var expiresAt: SIPEventInstant
        /// CSeq of the refresh (or unsubscribe) SUBSCRIBE awaiting its response.
        var outstandingCSeq: UInt32?
    }

    public let configuration: SIPSubscriberConfiguration
    public private(set) var callID: String = ""
    public private(set) var localTag: String = ""
    /// The dialogs, one per answering notifier.
    public private(set) var usages: [SIPDialogID: DialogUsage] = [:]
    /// Whether ``unsubscribe(now:)`` was called.
    public private(set) var isUnsubscribing = false
    /// Whether it ended for good.
    public private(set) var isFinished = false
    private var initialCSeq: UInt32 = 0
    private var initialOutstanding = false
    private var requestedExpires: Int
    private var receivedNotify = false

    public init(configuration: SIPSubscriberConfiguration) {
        self.configuration = configuration
        self.requestedExpires = configuration.expires
    }

    /// Whether `request` (a NOTIFY) belongs to this subscription: same Call-ID, To tag = our tag.
    public func owns(_ request: SIPRequest) -> Bool {
        !callID.isEmpty && request.headers.callID == callID && request.headers.to?.tag == localTag
    }

    /// Whether `response` answers one of our SUBSCRIBEs.
    public func owns(_ response: SIPResponse) -> Bool {
        !callID.isEmpty && response.headers.callID == callID && response.headers.from?.tag == localTag
    }

    // MARK: - Events

    /// Sends a new out-of-dialog SUBSCRIBE with a fresh Call-ID and tag (RFC 6665 §4.1.2.1).
    public mutating func start(now: SIPEventInstant, using generator: inout some RandomNumberGenerator) -> [SIPSubscriberAction] {
        guard !isFinished else { return [] }
        callID = SIPEventMessages.token(length: 20, using: &generator)
        localTag = SIPEventMessages.token(using: &generator)
        initialCSeq = 0
        requestedExpires = configuration.expires
        receivedNotify = false
        usages = [:]
        return sendInitial() + [.scheduleTimer(.waitForNotify, after: configuration.notifyWait)]
    }

    /// The final (or provisional) response to one of our SUBSCRIBEs.
    public mutating func responseReceived(
        _ response: SIPResponse, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        guard response.isFinal, owns(response), let cseq = response.headers.cseq, cseq.method == .subscribe else { return [] }
        if initialOutstanding && cseq.sequence == initialCSeq {
            return initialResponse(response, now: now, using: &generator)
        }
        guard let id = usages.first(where: { $0.value.outstandingCSeq == cseq.sequence })?.key else { return [] }
        return refreshResponse(response, for: id, now: now, using: &generator)
    }

    /// A SUBSCRIBE we sent timed out or could not be sent: handled as a 408 (RFC 3261 §8.1.3.1).
    public mutating func requestFailed(
        _ request: SIPRequest, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        responseReceived(SIPEventMessages.response(408, to: request), now: now, using: &generator)
    }

    /// A NOTIFY arrived (RFC 6665 §4.1.3). It is answered 200 and delivered — also when it comes
    /// before the 2xx or from a new fork, in which case it creates the dialog (§4.1.2.4);
    /// unknown dialogs of other subscriptions get 481, a wrong Event 489, a CSeq going back 500.
    public mutating func notifyReceived(
        _ notify: SIPRequest, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        guard owns(notify), let id = SIPDialogID.ofReceivedRequest(notify) else {
            return [.sendResponse(SIPEventMessages.response(481, to: notify))]
        }
        guard let event = notify.headers.event, event == configuration.event else {
            return [.sendResponse(SIPEventMessages.response(489, to: notify))]
        }
        guard let state = notify.headers.subscriptionState else {
            return [.sendResponse(SIPEventMessages.response(400, to: notify))]
        }
        var actions: [SIPSubscriberAction] = []
        var usage: DialogUsage
        if var existing = usages[id] {
            do {
                try existing.dialog.validateRequest(notify)
            } catch {
                return [.sendResponse(SIPEventMessages.response(error.statusCode, to: notify))]
            }
            existing.dialog.refreshRemoteTarget(from: notify.headers)
            usage = existing
        } else {
            guard !isFinished, state.value != .terminated || !usages.isEmpty || initialOutstanding || !receivedNotify else {
                return [.sendResponse(SIPEventMessages.response(481, to: notify))]
            }
            do {
                let dialog = try SIPDialog(uacRequest: initialRequest(), notify: notify)
                usage = DialogUsage(dialog: dialog, state: nil, expiresAt: now + .seconds(requestedExpires), outstandingCSeq: nil)
            } catch {
                return [.sendResponse(SIPEventMessages.response(error.statusCode, to: notify))]
            }
        }
        if !receivedNotify {
            receivedNotify = true
            actions.append(.cancelTimer(.waitForNotify))
        }
        actions.append(.sendResponse(SIPEventMessages.response(200, to: notify)))
        actions.append(.deliverNotification(SIPSubscriberNotification(dialogID: id, state: state, body: notify.eventBody)))
        usage.state = state.value

        if state.value == .terminated {
            usages[id] = nil
            actions += [.cancelTimer(.refresh(id)), .cancelTimer(.expiry(id))]
            actions += afterUsageEnded(reason: state.reason, retryAfter: state.retryAfter, now: now, using: &generator)
            return actions
        }
        if let seconds = state.expires {
            // The notifier's figure wins; it may have shortened the subscription (§4.1.3).
            usage.expiresAt = now + .seconds(seconds)
        }
        usages[id] = usage
        if !isUnsubscribing {
            actions += scheduleRefresh(id, now: now, using: &generator)
        }
        return actions
    }

    /// The application refused a NOTIFY that ``notifyReceived(_:now:using:)`` had accepted (it answered
    /// `statusCode` instead of the 200). Without `Retry-After` (and other than 401/407) the notifier removes the
    /// subscription on such an answer (RFC 6665 §4.2.2), so the dialog's usage ends here as well and a new
    /// subscription follows after the retry delay; otherwise the subscription stays.
    public mutating func notifyRefused(_ dialogID: SIPDialogID, statusCode: Int, retryAfter: Int?) -> [SIPSubscriberAction] {
        guard statusCode >= 300, statusCode != 401, statusCode != 407, retryAfter == nil, usages[dialogID] != nil else { return [] }
        usages[dialogID] = nil
        let actions: [SIPSubscriberAction] = [.cancelTimer(.refresh(dialogID)), .cancelTimer(.expiry(dialogID))]
        // Other forks keep the subscription alive.
        guard usages.isEmpty, !isFinished else { return actions }
        initialOutstanding = false
        if isUnsubscribing { return actions + finish(.unsubscribed) }
        return actions + [.scheduleTimer(.retry, after: configuration.retryDelay)]
    }

    /// A timer fired.
    public mutating func timerFired(
        _ timer: SIPSubscriberTimer, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        switch timer {
        case .refresh(let id):
            guard var usage = usages[id], !isUnsubscribing else { return [] }
            let request = inDialogSubscribe(&usage, expires: requestedExpires)
            usages[id] = usage
            return [.sendRequest(request)]
        case .expiry(let id):
            guard usages[id] != nil else { return [] }
            usages[id] = nil
            return [.cancelTimer(.refresh(id))] + afterUsageEnded(reason: .timeout, retryAfter: nil, now: now, using: &generator)
        case .waitForNotify:
            guard !receivedNotify, !isFinished else { return [] }
            // Timer N: the subscription failed (RFC 6665 §4.1.2.4); forget its dialogs.
            var actions: [SIPSubscriberAction] = []
            for id in usages.keys.sorted(by: { $0.description < $1.description }) {
                actions += [.cancelTimer(.refresh(id)), .cancelTimer(.expiry(id))]
            }
            usages = [:]
            initialOutstanding = false
            if isUnsubscribing { return actions + finish(.unsubscribed) }
            return actions + [.scheduleTimer(.retry, after: configuration.retryDelay)]
        case .retry:
            guard !isFinished, !isUnsubscribing else { return [] }
            return start(now: now, using: &generator)
        }
    }

    /// Ends the subscription: `Expires: 0` on every dialog (RFC 6665 §4.1.2.3). The final
    /// NOTIFY, a 481 or the expiry timer completes it with ``SIPSubscriberTermination/unsubscribed``.
    public mutating func unsubscribe(now: SIPEventInstant) -> [SIPSubscriberAction] {
        guard !isFinished, !isUnsubscribing else { return [] }
        isUnsubscribing = true
        var actions: [SIPSubscriberAction] = [.cancelTimer(.retry)]
        if usages.isEmpty && !initialOutstanding {
            return actions + [.cancelTimer(.waitForNotify)] + finish(.unsubscribed)
        }
        for id in usages.keys.sorted(by: { $0.description < $1.description }) {
            guard var usage = usages[id] else { continue }
            actions.append(.sendRequest(inDialogSubscribe(&usage, expires: 0)))
            usage.expiresAt = now + configuration.notifyWait
            usages[id] = usage
            actions += [.cancelTimer(.refresh(id)), .scheduleTimer(.expiry(id), after: configuration.notifyWait)]
        }
        return actions
    }

    // MARK: - Internals

    private mutating func initialResponse(
        _ response: SIPResponse, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        initialOutstanding = false
        let status = response.statusCode
        if status < 300 {
            guard let id = SIPDialogID.ofReceivedResponse(response) else { return [] }
            var actions: [SIPSubscriberAction] = []
            if usages[id] == nil, let dialog = try? SIPDialog(uacRequest: initialRequest(), response: response) {
                usages[id] = DialogUsage(dialog: dialog, state: nil, expiresAt: now + .seconds(response.headers.expires ?? requestedExpires), outstandingCSeq: nil)
            } else if let seconds = response.headers.expires, var usage = usages[id], usage.state == nil {
                usage.expiresAt = now + .seconds(seconds)
                usages[id] = usage
            }
            guard var usage = usages[id] else { return actions }
            if isUnsubscribing {
                actions.append(.sendRequest(inDialogSubscribe(&usage, expires: 0)))
                usages[id] = usage
                return actions
            }
            actions += scheduleRefresh(id, now: now, using: &generator)
            return actions
        }
        if status == 423, let minimum = response.headers.minExpires, minimum > requestedExpires {
            requestedExpires = minimum
            return sendInitial()
        }
        // Forks that already sent NOTIFYs keep the subscription alive.
        guard usages.isEmpty else { return [] }
        var actions: [SIPSubscriberAction] = [.cancelTimer(.waitForNotify)]
        if isUnsubscribing { return actions + finish(.unsubscribed) }
        if status == 408 || status == 503 || status == 500 || status == 480 {
            let delay = response.headers["Retry-After"].flatMap(SIPEventHeaderGrammar.seconds).map { Duration.seconds($0) } ?? configuration.retryDelay
            actions.append(.scheduleTimer(.retry, after: delay))
            return actions
        }
        return actions + finish(.refused(statusCode: status))
    }

    private mutating func refreshResponse(
        _ response: SIPResponse, for id: SIPDialogID, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        guard var usage = usages[id] else { return [] }
        usage.outstandingCSeq = nil
        let status = response.statusCode
        if status < 300 {
            usage.dialog.refreshRemoteTarget(from: response.headers)
            if !isUnsubscribing, let seconds = response.headers.expires {
                usage.expiresAt = now + .seconds(seconds)
            }
            usages[id] = usage
            return isUnsubscribing ? [] : scheduleRefresh(id, now: now, using: &generator)
        }
        if status == 423, let minimum = response.headers.minExpires, !isUnsubscribing {
            requestedExpires = max(requestedExpires, minimum)
            let request = inDialogSubscribe(&usage, expires: requestedExpires)
            usages[id] = usage
            return [.sendRequest(request)]
        }
        if status == 481 || status == 408 {
            // The dialog is gone (481) or unreachable (408): start over (RFC 6665 §4.1.2.2, RFC 5057).
            usages[id] = nil
            let actions: [SIPSubscriberAction] = [.cancelTimer(.refresh(id)), .cancelTimer(.expiry(id))]
            let retryAfter = status == 481 ? 0 : configuration.retryDelay.wholeSecondsRoundedUp
            return actions + afterUsageEnded(reason: nil, retryAfter: retryAfter, now: now, using: &generator)
        }
        // Any other failure leaves the subscription valid until it expires (RFC 6665 §4.1.2.2).
        usages[id] = usage
        return []
    }

    /// A dialog's subscription ended: finish, retry, or (with other forks alive) carry on.
    private mutating func afterUsageEnded(
        reason: SIPSubscriptionTerminationReason?, retryAfter: Int?, now: SIPEventInstant,
        using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        guard usages.isEmpty, !isFinished else { return [] }
        initialOutstanding = false
        if isUnsubscribing { return finish(.unsubscribed) }
        if let reason, !reason.allowsRetry { return finish(.terminated(reason)) }
        let delay: Duration
        if let retryAfter {
            delay = .seconds(retryAfter)
        } else if reason?.retriesLater == true {
            delay = configuration.retryDelay
        } else {
            delay = .zero
        }
        if delay == .zero { return start(now: now, using: &generator) }
        return [.scheduleTimer(.retry, after: delay)]
    }

    private mutating func finish(_ termination: SIPSubscriberTermination) -> [SIPSubscriberAction] {
        isFinished = true
        usages = [:]
        return [.reportTermination(termination)]
    }

    private mutating func scheduleRefresh(
        _ id: SIPDialogID, now: SIPEventInstant, using generator: inout some RandomNumberGenerator
    ) -> [SIPSubscriberAction] {
        guard let usage = usages[id] else { return [] }
        let remaining = max(.zero, usage.expiresAt - now)
        let delay = SIPEventMessages.refreshDelay(
            expiringAfter: remaining, window: configuration.refreshWindow, margin: configuration.refreshMargin, using: &generator
        )
        return [.scheduleTimer(.refresh(id), after: delay), .scheduleTimer(.expiry(id), after: remaining)]
    }

    private mutating func sendInitial() -> [SIPSubscriberAction] {
        initialCSeq &+= 1
        initialOutstanding = true
        return [.sendRequest(initialRequest())]
    }

    /// The out-of-dialog SUBSCRIBE for the current Call-ID, tag and CSeq (RFC 6665 §4.1.2.1).
    func initialRequest() -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Max-Forwards", value: "70")
        headers.to = SIPNameAddress(uri: configuration.resource)
        headers.from = SIPNameAddress(uri: configuration.subscriber, parameters: [("tag", localTag)])
        headers.callID = callID
        headers.cseq = SIPCSeq(sequence: initialCSeq, method: .subscribe)
        headers.add(name: "Contact", value: SIPNameAddress(uri: configuration.localContact).description)
        headers.add(name: "Event", value: configuration.eventHeaderValue)
        headers.expires = requestedExpires
        if !configuration.accept.isEmpty { headers.add(name: "Accept", value: configuration.accept.joined(separator: ", ")) }
        headers.contentLength = 0
        var request = SIPRequest(method: .subscribe, uri: configuration.requestURI, headers: headers)
        if let body = configuration.body { request.eventBody = body }
        return request
    }

    private func inDialogSubscribe(_ usage: inout DialogUsage, expires: Int) -> SIPRequest {
        var request = usage.dialog.makeRequest(method: .subscribe)
        request.headers.replaceOrAdd(name: "Event", value: configuration.eventHeaderValue)
        request.headers.expires = expires
        if !configuration.accept.isEmpty { request.headers.add(name: "Accept", value: configuration.accept.joined(separator: ", ")) }
        request.headers.contentLength = 0
        usage.outstandingCSeq = usage.dialog.localSequence
        return request
    }
}
