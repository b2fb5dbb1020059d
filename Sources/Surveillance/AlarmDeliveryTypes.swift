/// Which SIP request carries an alarm to a supporter (seed 000 §VI).
public enum AlarmChannel: String, Sendable, Hashable, Codable, CaseIterable {
    /// Variant 1: a NOTIFY of the alarm event package to a registered, reporting supporter (RFC 6665 §4.2.2).
    case notify = "NOTIFY"
    /// Variant 1 on an ordinary SIP phone: a pager-mode MESSAGE (RFC 3428 §4) the user answers by replying.
    case message = "MESSAGE"
    /// Variant 2: a SUBSCRIBE to the supporter, who answers with a NOTIFY accepting or declining
    /// (RFC 6665 §4.1).
    case subscribe = "SUBSCRIBE"
}

/// A supporter as the notifier contacts them.
public struct AlarmRecipient: Sendable, Hashable, Codable {
    /// Their AoR: answers are matched against it.
    public var supporter: String
    /// Where requests go.
    public var contact: String
    /// Which request they can take.
    public var phoneKind: SupporterPhoneKind

    /// Creates a recipient.
    public init(supporter: String, contact: String? = nil, phoneKind: SupporterPhoneKind = .smfNode) {
        self.supporter = supporter
        self.contact = contact ?? supporter
        self.phoneKind = phoneKind
    }
}

/// How service 7 delivers and escalates (the `supporter-notifier` parameters). See docs/surveillance.md,
/// "Escalation policy".
public struct AlarmDeliveryPolicy: Sendable, Hashable {
    /// Seed 000 §VI's two ways of telling a supporter.
    public enum Variant: String, Sendable, Hashable, CaseIterable {
        /// Variant 1: NOTIFY (MESSAGE to plain phones).
        case notify
        /// Variant 2: SUBSCRIBE, answered by a NOTIFY (MESSAGE to plain phones).
        case subscribe
    }

    /// Variant 1 or 2.
    public var variant: Variant
    /// How long each supporter has, from the first request sent to them, to accept before the next one is
    /// contacted (`accept-timeout`, default 60 s).
    public var acceptTimeout: Duration
    /// The wait before the first retry of a failed delivery (`retry-interval`, default 5 s); doubled after
    /// each further failure up to ``maxRetryInterval``.
    public var retryInterval: Duration
    /// The longest wait between retries (default 30 s).
    public var maxRetryInterval: Duration
    /// Failed deliveries to one supporter before they count as unreachable and the next is contacted
    /// (default 4).
    public var maxAttemptsPerSupporter: Int
    /// Whether plain SIP phones get a MESSAGE (`message-fallback`, default true); when false they get the
    /// variant's request like everyone else.
    public var messageFallback: Bool
    /// How long after the list is exhausted (and the owners alerted) the next round starts (default 60 s).
    public var restartDelay: Duration

    /// Creates a policy.
    public init(
        variant: Variant = .notify, acceptTimeout: Duration = .seconds(60), retryInterval: Duration = .seconds(5),
        maxRetryInterval: Duration = .seconds(30), maxAttemptsPerSupporter: Int = 4, messageFallback: Bool = true,
        restartDelay: Duration = .seconds(60)
    ) {
        self.variant = variant
        self.acceptTimeout = acceptTimeout
        self.retryInterval = retryInterval
        self.maxRetryInterval = maxRetryInterval
        self.maxAttemptsPerSupporter = maxAttemptsPerSupporter
        self.messageFallback = messageFallback
        self.restartDelay = restartDelay
    }

    /// Throws when a value is out of range.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidPolicy`` naming the value.
    public func validate() throws(SurveillanceError) {
        for (name, value) in [
            ("accept-timeout", acceptTimeout), ("retry-interval", retryInterval), ("max-retry-interval", maxRetryInterval),
            ("restart-delay", restartDelay),
        ] where value <= .zero {
            throw SurveillanceError(.invalidPolicy, "\(name) must be longer than 0 s, not \(value)")
        }
        guard maxAttemptsPerSupporter >= 1 else {
            throw SurveillanceError(.invalidPolicy, "at least 1 attempt per supporter is needed, not \(maxAttemptsPerSupporter)")
        }
    }

    /// The request that carries an alarm to `recipient`.
    public func channel(for recipient: AlarmRecipient) -> AlarmChannel {
        if recipient.phoneKind == .sipPhone && messageFallback { return .message }
        return variant == .notify ? .notify : .subscribe
    }

    /// The wait before retrying after the `failures`-th failed delivery to one supporter:
    /// `retryInterval × 2^(failures − 1)`, at most ``maxRetryInterval``.
    public func backoff(afterFailures failures: Int) -> Duration {
        var wait = retryInterval
        for _ in 1..<max(1, failures) {
            wait = wait * 2
            if wait >= maxRetryInterval { break }
        }
        return min(wait, maxRetryInterval)
    }
}

/// Why the notifier moved on from a supporter.
public enum EscalationReason: String, Sendable, Hashable, Codable {
    /// They declined.
    case declined
    /// Their request was delivered but they did not accept within the accept timeout.
    case noAnswer = "no-answer"
    /// No request reached them (every attempt failed, or the accept timeout passed first).
    case unreachable
}

/// A supporter's answer to an alarm.
public enum AlarmDecision: String, Sendable, Hashable, Codable {
    case accept
    case decline
}

/// How a send ended, as the transaction layer reports it.
public enum AlarmDeliveryResult: Sendable, Hashable {
    /// A 2xx final response (RFC 3261 §17.1.2): the request reached the supporter's user agent.
    case delivered
    /// An error response, a transport error or a transaction timeout (RFC 3261 §17.1.2.2), described.
    case failed(String)
}

/// One recorded step of an alarm's delivery: the alarm's history, and what the state machine is rebuilt
/// from after a restart.
public struct AlarmStep: Sendable, Hashable {
    /// When it happened.
    public var time: Duration
    /// What happened.
    public var kind: Kind

    /// Creates a step.
    public init(time: Duration, _ kind: Kind) {
        self.time = time
        self.kind = kind
    }

    /// What happened.
    public enum Kind: Sendable, Hashable, Codable {
        /// The alarm was stored (before anything was acknowledged).
        case raised
        /// The list of supporters to contact for the current round.
        case selected([AlarmRecipient])
        /// Request number `attempt` (1, 2, … across the alarm) went to the `recipient`-th supporter.
        case contacted(attempt: Int, recipient: Int, supporter: String, channel: AlarmChannel)
        /// Request `attempt` got a 2xx.
        case delivered(attempt: Int)
        /// Request `attempt` failed, and why.
        case deliveryFailed(attempt: Int, reason: String)
        /// `supporter` accepted: the alarm is handled.
        case accepted(supporter: String)
        /// `supporter` declined.
        case declined(supporter: String)
        /// The notifier moved on from `supporter`.
        case escalated(supporter: String, reason: EscalationReason)
        /// Round `round` ended with nobody accepting; the owners were alerted and a new round is due.
        case exhausted(round: Int)
        /// Round `round` started from the first supporter of the list.
        case restarted(round: Int)
        /// An operator closed the alarm without a supporter (`by` whom, why).
        case cancelled(by: String, reason: String)
    }
}

extension AlarmStep: Codable {
    private enum CodingKeys: String, CodingKey { case timeNanoseconds = "atNs", kind }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            time: .nanoseconds(try container.decode(Int64.self, forKey: .timeNanoseconds)),
            try container.decode(Kind.self, forKey: .kind))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time.wholeNanoseconds, forKey: .timeNanoseconds)
        try container.encode(kind, forKey: .kind)
    }
}

/// A timer the driver must start; when it expires, pass it back to ``AlarmDelivery/timerFired(_:at:)``.
///
/// Timers are never cancelled: one that no longer matches the machine's state is ignored when it fires.
/// A deadline at or before the current time means "fire now".
public struct AlarmTimer: Sendable, Hashable {
    /// What the timer is for.
    public enum Purpose: String, Sendable, Hashable {
        /// Retry a failed delivery to the current supporter.
        case retry
        /// The current supporter's accept timeout.
        case acceptDeadline
        /// Start the next round after the list was exhausted.
        case restart
    }

    /// The alarm it belongs to.
    public var alarmID: String
    /// What it is for.
    public var purpose: Purpose
    /// When it fires.
    public var deadline: Duration
}

/// A request for the driver to send.
public struct AlarmDispatch: Sendable, Hashable {
    /// The alarm to tell about (its id is the reference a phone user types back).
    public var alarm: Alarm
    /// The attempt number to report the result under (``AlarmDelivery/deliveryResult(attempt:_:at:)``).
    public var attempt: Int
    /// Whom to send it to.
    public var recipient: AlarmRecipient
    /// Which request to send.
    public var channel: AlarmChannel
}

/// A notice for the composition's owners (sent by the driver, e.g. as MESSAGEs).
public struct AlarmOwnerAlert: Sendable, Hashable, CustomStringConvertible {
    /// The alarm.
    public var alarmID: String
    /// The round that ended with nobody accepting.
    public var round: Int
    /// The text to send, e.g. `alarm A-1 (fire in house-12): none of 2 supporters accepted in round 1; …`.
    public var message: String

    public var description: String { message }
}

/// How an alarm ended.
public enum AlarmOutcome: Sendable, Hashable {
    /// A supporter accepted.
    case accepted(supporter: String, at: Duration)
    /// An operator closed it.
    case cancelled(by: String, reason: String, at: Duration)
}

/// What the driver must do, in order. `record` always comes before the sends it explains, so the step is
/// durable before anything leaves the node.
public enum AlarmDeliveryAction: Sendable, Hashable {
    /// Append the step to the alarm's stored record.
    case record(AlarmStep)
    /// Send the request; report the result with ``AlarmDelivery/deliveryResult(attempt:_:at:)``.
    case send(AlarmDispatch)
    /// Start a timer.
    case scheduleTimer(AlarmTimer)
    /// Tell the composition's owners (the list is exhausted, or empty).
    case alertOwners(AlarmOwnerAlert)
    /// Ask the selector (service 6) for a fresh list; pass it to ``AlarmDelivery/selectionUpdated(_:at:)``.
    case requestSelection(alarmID: String)
    /// The alarm is finished; no further action will come.
    case finished(AlarmOutcome)
}
