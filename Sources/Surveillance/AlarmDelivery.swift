/// Service 7's delivery of one alarm (seed 000 §VI, both variants): contacts the selected supporters one
/// at a time, retries failed deliveries with backoff, escalates on decline or silence, and starts over
/// (alerting the owners) when the list is exhausted. An alarm ends only when a supporter accepts or an
/// operator cancels it: it is never dropped.
///
/// A pure state machine: events in (``start(at:)``, ``deliveryResult(attempt:_:at:)``,
/// ``answered(by:_:at:)``, ``timerFired(_:at:)``, ``selectionUpdated(_:at:)``, ``cancel(by:reason:at:)``),
/// ``AlarmDeliveryAction``s out. Every change of state is an ``AlarmStep`` returned as a `record` action;
/// the state is a function of those steps, so ``init(restoring:steps:policy:)`` rebuilds the machine from
/// a stored record and ``resume(at:)`` carries on. See docs/surveillance.md, "Escalation policy".
public struct AlarmDelivery: Sendable, Hashable {
    /// The alarm being delivered.
    public let alarm: Alarm
    /// The delivery and escalation policy.
    public let policy: AlarmDeliveryPolicy
    /// Every step so far, oldest first.
    public private(set) var steps: [AlarmStep] = []

    /// The supporters of the current round, in contact order.
    public private(set) var recipients: [AlarmRecipient] = []
    /// The current round (1 for the first pass over the list).
    public private(set) var round = 1
    /// How the alarm ended, or nil while it is open.
    public private(set) var outcome: AlarmOutcome?
    /// Every supporter contacted so far (in any round), in first-contact order; any of them may accept.
    public private(set) var contacted: [String] = []

    /// The supporter being contacted, as an index into ``recipients``, while one is.
    private var current: Int?
    private var currentAttempt: Int?
    private var deliveredToCurrent = false
    private var failuresOfCurrent = 0
    private var acceptDeadline: Duration?
    private var retryAt: Duration?
    private var restartAt: Duration?
    private var attempts = 0
    private var settledAttempts: Set<Int> = []

    /// A machine for a new alarm, to be started with ``start(at:)``.
    ///
    /// - Parameter recipients: The selector's list, first to contact first (may be empty: the owners are
    ///   then alerted at once and a new selection is requested).
    /// - Throws: ``SurveillanceError`` for an invalid alarm or policy.
    public init(alarm: Alarm, recipients: [AlarmRecipient], policy: AlarmDeliveryPolicy) throws(SurveillanceError) {
        try alarm.validate()
        try policy.validate()
        self.alarm = alarm
        self.policy = policy
        self.recipients = recipients
    }

    /// Rebuilds the machine from a stored record (after a restart); call ``resume(at:)`` next.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidRecord`` when the steps cannot have come from this machine.
    public init(restoring alarm: Alarm, steps: [AlarmStep], policy: AlarmDeliveryPolicy) throws(SurveillanceError) {
        try alarm.validate()
        try policy.validate()
        self.alarm = alarm
        self.policy = policy
        guard steps.first?.kind == .raised else {
            throw SurveillanceError(.invalidRecord, "alarm \(alarm.id): the record does not start with 'raised'")
        }
        for step in steps { try apply(step) }
    }

    /// Whether the alarm is still open (nobody accepted, nobody cancelled).
    public var isOpen: Bool { outcome == nil }

    /// The supporter currently being contacted.
    public var currentSupporter: String? { current.map { recipients[$0].supporter } }

    // MARK: - Events

    /// Records the alarm and contacts the first supporter.
    public mutating func start(at now: Duration) -> [AlarmDeliveryAction] {
        guard steps.isEmpty else { return [] }
        var actions = record(AlarmStep(time: now, .raised))
        actions += record(AlarmStep(time: now, .selected(recipients)))
        actions += contactNext(after: nil, at: now)
        return actions
    }

    /// Carries on after ``init(restoring:steps:policy:)``: schedules the pending timers again, asks for a
    /// fresh selection when between rounds, and resends a request whose result was lost with the node
    /// (counted as a failed delivery).
    public mutating func resume(at now: Duration) -> [AlarmDeliveryAction] {
        guard isOpen else { return [] }
        if let restartAt {
            // Between rounds: the selection request was lost with the node; ask again.
            return [.requestSelection(alarmID: alarm.id), .scheduleTimer(timer(.restart, restartAt))]
        }
        guard current != nil, let attempt = currentAttempt else {
            // Stored before anyone was contacted (or between rounds): contact the first supporter.
            return contactNext(after: nil, at: now)
        }
        var actions: [AlarmDeliveryAction] = []
        if let acceptDeadline { actions.append(.scheduleTimer(timer(.acceptDeadline, acceptDeadline))) }
        if !settledAttempts.contains(attempt) {
            actions += deliveryResult(attempt: attempt, .failed("the node restarted before the result came"), at: now)
        } else if let retryAt {
            actions.append(.scheduleTimer(timer(.retry, retryAt)))
        } else if !deliveredToCurrent && failuresOfCurrent >= policy.maxAttemptsPerSupporter {
            // The last failure was stored but not the escalation that follows it.
            actions += escalate(.unreachable, at: now)
        }
        return actions
    }

    /// The result of request `attempt` (from a ``AlarmDeliveryAction/send(_:)``).
    ///
    /// A failure is retried after the policy's backoff; after ``AlarmDeliveryPolicy/maxAttemptsPerSupporter``
    /// failures the supporter counts as unreachable and the next is contacted. Results of earlier requests
    /// are recorded but change nothing; repeated results are ignored.
    public mutating func deliveryResult(
        attempt: Int, _ result: AlarmDeliveryResult, at now: Duration
    ) -> [AlarmDeliveryAction] {
        guard isOpen, (1...max(1, attempts)).contains(attempt), attempts > 0, !settledAttempts.contains(attempt) else { return [] }
        switch result {
        case .delivered:
            return record(AlarmStep(time: now, .delivered(attempt: attempt)))
        case .failed(let reason):
            var actions = record(AlarmStep(time: now, .deliveryFailed(attempt: attempt, reason: reason)))
            guard attempt == currentAttempt, current != nil else { return actions }
            if let retryAt {
                actions.append(.scheduleTimer(timer(.retry, retryAt)))
            } else {
                actions += escalate(.unreachable, at: now)
            }
            return actions
        }
    }

    /// A supporter's answer: a NOTIFY of the alarm package, or a MESSAGE reply from a phone
    /// (``AlarmReply``).
    ///
    /// The first acceptance from anyone contacted (in any round, even after they were passed over) ends
    /// the alarm. A decline from the supporter being contacted escalates at once; from an earlier one it
    /// is only recorded. Answers after the alarm ended change nothing.
    ///
    /// - Throws: ``SurveillanceError/Code/unknownSupporter`` when `supporter` was never contacted.
    public mutating func answered(
        by supporter: String, _ decision: AlarmDecision, at now: Duration
    ) throws(SurveillanceError) -> [AlarmDeliveryAction] {
        guard contacted.contains(supporter) else {
            throw SurveillanceError(.unknownSupporter, "\(supporter) answered alarm \(alarm.id) but was never told about it")
        }
        guard isOpen else { return [] }
        switch decision {
        case .accept:
            var actions = record(AlarmStep(time: now, .accepted(supporter: supporter)))
            if let outcome { actions.append(.finished(outcome)) }
            return actions
        case .decline:
            var actions = record(AlarmStep(time: now, .declined(supporter: supporter)))
            if currentSupporter == supporter { actions += escalate(.declined, at: now) }
            return actions
        }
    }

    /// A timer from a ``AlarmDeliveryAction/scheduleTimer(_:)`` expired; ignored unless it is still due.
    public mutating func timerFired(_ timer: AlarmTimer, at now: Duration) -> [AlarmDeliveryAction] {
        guard isOpen, timer.alarmID == alarm.id else { return [] }
        switch timer.purpose {
        case .retry:
            guard retryAt == timer.deadline, let current else { return [] }
            return contact(current, at: now)
        case .acceptDeadline:
            guard acceptDeadline == timer.deadline, current != nil else { return [] }
            return escalate(deliveredToCurrent ? .noAnswer : .unreachable, at: now)
        case .restart:
            guard restartAt == timer.deadline else { return [] }
            return restart(at: now)
        }
    }

    /// A fresh list from the selector (after a ``AlarmDeliveryAction/requestSelection(alarmID:)``). It is
    /// used for the next round; when the exhausted round had nobody to contact, the next round starts at
    /// once. Ignored while a round is under way.
    public mutating func selectionUpdated(_ newRecipients: [AlarmRecipient], at now: Duration) -> [AlarmDeliveryAction] {
        guard isOpen, restartAt != nil else { return [] }
        let hadNobody = recipients.isEmpty
        var actions = record(AlarmStep(time: now, .selected(newRecipients)))
        if hadNobody && !newRecipients.isEmpty { actions += restart(at: now) }
        return actions
    }

    /// Closes the alarm without a supporter (an operator resolved it, e.g. a false alarm).
    public mutating func cancel(by operatorName: String, reason: String, at now: Duration) -> [AlarmDeliveryAction] {
        guard isOpen else { return [] }
        var actions = record(AlarmStep(time: now, .cancelled(by: operatorName, reason: reason)))
        if let outcome { actions.append(.finished(outcome)) }
        return actions
    }

    // MARK: - Decisions

    private mutating func contactNext(after index: Int?, at now: Duration) -> [AlarmDeliveryAction] {
        let next = index.map { $0 + 1 } ?? 0
        if next < recipients.count { return contact(next, at: now) }
        return exhaust(at: now)
    }

    private mutating func contact(_ index: Int, at now: Duration) -> [AlarmDeliveryAction] {
        let recipient = recipients[index]
        let channel = policy.channel(for: recipient)
        let isNewSupporter = current != index
        let attempt = attempts + 1
        var actions = record(
            AlarmStep(time: now, .contacted(attempt: attempt, recipient: index, supporter: recipient.supporter, channel: channel)))
        actions.append(.send(AlarmDispatch(alarm: alarm, attempt: attempt, recipient: recipient, channel: channel)))
        if isNewSupporter, let acceptDeadline { actions.append(.scheduleTimer(timer(.acceptDeadline, acceptDeadline))) }
        return actions
    }

    private mutating func escalate(_ reason: EscalationReason, at now: Duration) -> [AlarmDeliveryAction] {
        guard let index = current else { return [] }
        var actions = record(AlarmStep(time: now, .escalated(supporter: recipients[index].supporter, reason: reason)))
        actions += contactNext(after: index, at: now)
        return actions
    }

    private mutating func exhaust(at now: Duration) -> [AlarmDeliveryAction] {
        let endedRound = round
        let told = recipients.count
        var actions = record(AlarmStep(time: now, .exhausted(round: endedRound)))
        let why =
            told == 0
            ? "no supporter is responsible for \(alarm.kind) in \(alarm.building)"
            : "none of the \(told) selected supporter\(told == 1 ? "" : "s") accepted in round \(endedRound)"
        actions.append(
            .alertOwners(
                AlarmOwnerAlert(
                    alarmID: alarm.id, round: endedRound,
                    message: "alarm \(alarm.id) (\(alarm.kind) in \(alarm.building)): \(why); trying again from the first supporter")))
        actions.append(.requestSelection(alarmID: alarm.id))
        if let restartAt { actions.append(.scheduleTimer(timer(.restart, restartAt))) }
        return actions
    }

    private mutating func restart(at now: Duration) -> [AlarmDeliveryAction] {
        var actions = record(AlarmStep(time: now, .restarted(round: round + 1)))
        actions += contactNext(after: nil, at: now)
        return actions
    }

    private func timer(_ purpose: AlarmTimer.Purpose, _ deadline: Duration) -> AlarmTimer {
        AlarmTimer(alarmID: alarm.id, purpose: purpose, deadline: deadline)
    }

    /// Applies a step the machine itself produced (never fails on those) and returns its record action.
    private mutating func record(_ step: AlarmStep) -> [AlarmDeliveryAction] {
        do {
            try apply(step)
        } catch {
            // Unreachable for steps built above; keep the history rather than lose it.
            steps.append(step)
        }
        return [.record(step)]
    }

    // MARK: - State from steps

    /// The one place state changes: live events and replays both come through here.
    private mutating func apply(_ step: AlarmStep) throws(SurveillanceError) {
        if let last = steps.last, step.time < last.time {
            throw SurveillanceError(.invalidRecord, "alarm \(alarm.id): step at \(step.time) is older than the one before it")
        }
        if !isOpen {
            throw SurveillanceError(.invalidRecord, "alarm \(alarm.id): a step follows the alarm's end")
        }
        switch step.kind {
        case .raised:
            guard steps.isEmpty else { throw SurveillanceError(.invalidRecord, "alarm \(alarm.id) raised twice") }
        case .selected(let list):
            recipients = list
        case .contacted(let attempt, let index, let supporter, _):
            guard attempt == attempts + 1, recipients.indices.contains(index), recipients[index].supporter == supporter else {
                throw SurveillanceError(
                    .invalidRecord, "alarm \(alarm.id): attempt \(attempt) to \(supporter) does not follow the record")
            }
            if current != index {
                current = index
                deliveredToCurrent = false
                failuresOfCurrent = 0
                acceptDeadline = step.time + policy.acceptTimeout
            }
            attempts = attempt
            currentAttempt = attempt
            retryAt = nil
            if !contacted.contains(supporter) { contacted.append(supporter) }
        case .delivered(let attempt):
            try checkAttempt(attempt)
            settledAttempts.insert(attempt)
            if attempt == currentAttempt && current != nil { deliveredToCurrent = true }
        case .deliveryFailed(let attempt, _):
            try checkAttempt(attempt)
            settledAttempts.insert(attempt)
            if attempt == currentAttempt && current != nil {
                failuresOfCurrent += 1
                retryAt =
                    failuresOfCurrent < policy.maxAttemptsPerSupporter
                    ? step.time + policy.backoff(afterFailures: failuresOfCurrent) : nil
            }
        case .accepted(let supporter):
            outcome = .accepted(supporter: supporter, at: step.time)
            endContact()
        case .declined:
            break
        case .escalated:
            endContact()
        case .exhausted:
            endContact()
            restartAt = step.time + policy.restartDelay
        case .restarted(let number):
            round = number
            restartAt = nil
            endContact()
        case .cancelled(let by, let reason):
            outcome = .cancelled(by: by, reason: reason, at: step.time)
            endContact()
            restartAt = nil
        }
        steps.append(step)
    }

    private func checkAttempt(_ attempt: Int) throws(SurveillanceError) {
        guard (1...max(1, attempts)).contains(attempt), attempts > 0 else {
            throw SurveillanceError(.invalidRecord, "alarm \(alarm.id): a result for attempt \(attempt), which was never made")
        }
    }

    private mutating func endContact() {
        current = nil
        currentAttempt = nil
        acceptDeadline = nil
        retryAt = nil
        deliveredToCurrent = false
        failuresOfCurrent = 0
    }
}
