import Rules
import Testing

@testable import Surveillance

let bob = AlarmRecipient(supporter: "sip:bob@north.example")
let carol = AlarmRecipient(supporter: "sip:carol@north.example", contact: "sip:carol@192.0.2.7:5062", phoneKind: .sipPhone)
let dave = AlarmRecipient(supporter: "sip:dave@north.example")
let fireAlarm = Alarm(id: "A-1", kind: "fire", severity: .critical, building: "house-12", raisedAt: .seconds(100))

extension [AlarmDeliveryAction] {
    var sends: [AlarmDispatch] { compactMap { if case .send(let dispatch) = $0 { dispatch } else { nil } } }
    var timers: [AlarmTimer] { compactMap { if case .scheduleTimer(let timer) = $0 { timer } else { nil } } }
    var steps: [AlarmStep.Kind] { compactMap { if case .record(let step) = $0 { step.kind } else { nil } } }
    var alerts: [AlarmOwnerAlert] { compactMap { if case .alertOwners(let alert) = $0 { alert } else { nil } } }
    var outcome: AlarmOutcome? { lazy.compactMap { if case .finished(let outcome) = $0 { outcome } else { nil } }.first }
    var sentTo: [String] { sends.map { "\(AlarmListFormatter.shortName($0.recipient.supporter)) \($0.channel.rawValue)" } }
}

private func machine(
    _ recipients: [AlarmRecipient], _ policy: AlarmDeliveryPolicy = AlarmDeliveryPolicy()
) throws -> AlarmDelivery {
    try AlarmDelivery(alarm: fireAlarm, recipients: recipients, policy: policy)
}

@Test func variant1NotifiesRegisteredSupporterAndFinishesWhenAccepted() throws {
    var delivery = try machine([bob, carol])
    let start = delivery.start(at: .seconds(100))
    #expect(start.steps.prefix(2) == [.raised, .selected([bob, carol])])
    #expect(start.sentTo == ["bob NOTIFY"])
    #expect(start.first == .record(AlarmStep(time: .seconds(100), .raised)), "stored before anything is sent")
    #expect(start.timers == [AlarmTimer(alarmID: "A-1", purpose: .acceptDeadline, deadline: .seconds(160))])
    #expect(delivery.deliveryResult(attempt: 1, .delivered, at: .seconds(100.01)).steps == [.delivered(attempt: 1)])
    let accepted = try delivery.answered(by: bob.supporter, .accept, at: .seconds(103))
    #expect(accepted.steps == [.accepted(supporter: bob.supporter)])
    #expect(accepted.outcome == .accepted(supporter: bob.supporter, at: .seconds(103)))
    #expect(!delivery.isOpen)
    #expect(delivery.timerFired(start.timers[0], at: .seconds(160)).isEmpty, "a finished alarm ignores its timers")
}

@Test func plainPhoneGetsAMessageAndVariant2SupportersGetASubscribe() throws {
    var variant1 = try machine([carol])
    #expect(variant1.start(at: .seconds(100)).sends.map(\.channel) == [.message])
    #expect(variant1.start(at: .seconds(100)).isEmpty, "starting twice does nothing")

    var variant2 = try machine([dave, carol], AlarmDeliveryPolicy(variant: .subscribe))
    #expect(variant2.start(at: .seconds(100)).sentTo == ["dave SUBSCRIBE"])
    #expect(try variant2.answered(by: dave.supporter, .decline, at: .seconds(101)).sentTo == ["carol MESSAGE"])

    var noFallback = try machine([carol], AlarmDeliveryPolicy(variant: .subscribe, messageFallback: false))
    #expect(noFallback.start(at: .seconds(100)).sends.map(\.channel) == [.subscribe])
}

@Test func failedDeliveryIsRetriedWithDoublingBackoffThenTheSupporterCountsAsUnreachable() throws {
    var delivery = try machine(
        [bob, dave],
        AlarmDeliveryPolicy(acceptTimeout: .seconds(600), retryInterval: .seconds(5), maxRetryInterval: .seconds(12), maxAttemptsPerSupporter: 4))
    _ = delivery.start(at: .seconds(100))
    var now = Duration.seconds(100)
    var waits: [Duration] = []
    for attempt in 1...3 {
        let failed = delivery.deliveryResult(attempt: attempt, .failed("408 Request Timeout"), at: now)
        let retry = try #require(failed.timers.first)
        #expect(retry.purpose == .retry)
        waits.append(retry.deadline - now)
        now = retry.deadline
        #expect(delivery.timerFired(retry, at: now).sentTo == ["bob NOTIFY"])
    }
    #expect(waits == [.seconds(5), .seconds(10), .seconds(12)], "5 s doubled, capped at 12 s")
    let fourth = delivery.deliveryResult(attempt: 4, .failed("503 Service Unavailable"), at: now)
    #expect(fourth.steps.contains(.escalated(supporter: bob.supporter, reason: .unreachable)))
    #expect(fourth.sentTo == ["dave NOTIFY"])
    #expect(fourth.sends.first?.attempt == 5)
}

@Test func silenceUntilTheAcceptTimeoutEscalatesToTheNextSupporter() throws {
    var delivery = try machine([bob, dave], AlarmDeliveryPolicy(acceptTimeout: .seconds(30)))
    let start = delivery.start(at: .seconds(100))
    _ = delivery.deliveryResult(attempt: 1, .delivered, at: .seconds(100))
    let deadline = try #require(start.timers.first)
    #expect(delivery.timerFired(AlarmTimer(alarmID: "A-1", purpose: .acceptDeadline, deadline: .seconds(129)), at: .seconds(129)).isEmpty,
            "a timer that does not match the deadline is stale")
    let next = delivery.timerFired(deadline, at: .seconds(130))
    #expect(next.steps.first == .escalated(supporter: bob.supporter, reason: .noAnswer))
    #expect(next.sentTo == ["dave NOTIFY"])
    #expect(next.timers == [AlarmTimer(alarmID: "A-1", purpose: .acceptDeadline, deadline: .seconds(160))])
    #expect(delivery.timerFired(deadline, at: .seconds(130)).isEmpty, "the same timer firing twice does nothing")
}

@Test func declineEscalatesAtOnceAndAnEarlierSupporterMayStillAcceptLater() throws {
    var delivery = try machine([bob, carol, dave])
    _ = delivery.start(at: .seconds(100))
    let afterDecline = try delivery.answered(by: bob.supporter, .decline, at: .seconds(102))
    #expect(afterDecline.steps.prefix(2) == [.declined(supporter: bob.supporter), .escalated(supporter: bob.supporter, reason: .declined)])
    #expect(afterDecline.sentTo == ["carol MESSAGE"])
    let silence = delivery.timerFired(try #require(afterDecline.timers.first), at: .seconds(162))
    #expect(silence.sentTo == ["dave NOTIFY"])
    // carol answers late, while dave is being contacted: her acceptance counts.
    let late = try delivery.answered(by: carol.supporter, .accept, at: .seconds(170))
    #expect(late.outcome == .accepted(supporter: carol.supporter, at: .seconds(170)))
    #expect(delivery.contacted == [bob.supporter, carol.supporter, dave.supporter])
    #expect(try delivery.answered(by: dave.supporter, .accept, at: .seconds(171)).isEmpty, "the alarm is already taken")
}

@Test func answerFromSomeoneNeverContactedIsRefused() throws {
    var delivery = try machine([bob, dave])
    _ = delivery.start(at: .seconds(100))
    #expect(throws: SurveillanceError(.unknownSupporter, "sip:dave@north.example answered alarm A-1 but was never told about it")) {
        try delivery.answered(by: dave.supporter, .accept, at: .seconds(101))
    }
    #expect(delivery.isOpen)
}

@Test func exhaustedListAlertsOwnersAndStartsAgainFromTheFirstSupporter() throws {
    var delivery = try machine([bob, dave], AlarmDeliveryPolicy(acceptTimeout: .seconds(30), restartDelay: .seconds(60)))
    _ = delivery.start(at: .seconds(100))
    _ = try delivery.answered(by: bob.supporter, .decline, at: .seconds(101))
    let exhausted = try delivery.answered(by: dave.supporter, .decline, at: .seconds(102))
    #expect(exhausted.steps.suffix(2) == [.escalated(supporter: dave.supporter, reason: .declined), .exhausted(round: 1)])
    #expect(
        exhausted.alerts.map(\.message)
            == ["alarm A-1 (fire in house-12): none of the 2 selected supporters accepted in round 1; trying again from the first supporter"])
    #expect(exhausted.contains(.requestSelection(alarmID: "A-1")))
    let restart = try #require(exhausted.timers.first)
    #expect(restart == AlarmTimer(alarmID: "A-1", purpose: .restart, deadline: .seconds(162)))
    // The selector's fresh list is used for the next round.
    #expect(delivery.selectionUpdated([dave, bob], at: .seconds(103)).steps == [.selected([dave, bob])])
    let round2 = delivery.timerFired(restart, at: .seconds(162))
    #expect(round2.steps.first == .restarted(round: 2))
    #expect(round2.sentTo == ["dave NOTIFY"])
    #expect(delivery.round == 2)
    #expect(delivery.isOpen)
}

@Test func alarmWithNobodyToContactAlertsOwnersAtOnceAndStartsWhenSomeoneIsSelected() throws {
    var delivery = try machine([])
    let start = delivery.start(at: .seconds(100))
    #expect(start.alerts.map(\.message) == ["alarm A-1 (fire in house-12): no supporter is responsible for fire in house-12; trying again from the first supporter"])
    #expect(start.sends.isEmpty)
    #expect(delivery.selectionUpdated([], at: .seconds(101)).steps == [.selected([])], "still nobody: wait for the restart timer")
    let round2 = delivery.selectionUpdated([bob], at: .seconds(110))
    #expect(round2.steps.prefix(2) == [.selected([bob]), .restarted(round: 2)])
    #expect(round2.sentTo == ["bob NOTIFY"])
}

@Test func resultsOfEarlierAttemptsAreRecordedButChangeNothing() throws {
    var delivery = try machine([bob, dave])
    _ = delivery.start(at: .seconds(100))
    _ = try delivery.answered(by: bob.supporter, .decline, at: .seconds(101))
    let stale = delivery.deliveryResult(attempt: 1, .failed("timeout"), at: .seconds(132))
    #expect(stale.steps == [.deliveryFailed(attempt: 1, reason: "timeout")])
    #expect(stale.timers.isEmpty && stale.sends.isEmpty)
    #expect(delivery.deliveryResult(attempt: 1, .delivered, at: .seconds(133)).isEmpty, "one result per attempt")
    #expect(delivery.deliveryResult(attempt: 9, .delivered, at: .seconds(133)).isEmpty, "no such attempt")
    #expect(delivery.currentSupporter == dave.supporter)
}

@Test func cancelledAlarmFinishesAndIgnoresFurtherEvents() throws {
    var delivery = try machine([bob])
    _ = delivery.start(at: .seconds(100))
    let cancelled = delivery.cancel(by: "owner", reason: "false alarm: toast", at: .seconds(120))
    #expect(cancelled.outcome == .cancelled(by: "owner", reason: "false alarm: toast", at: .seconds(120)))
    #expect(try delivery.answered(by: bob.supporter, .accept, at: .seconds(121)).isEmpty)
}

@Test func invalidAlarmAndPolicyAreRefused() {
    #expect(throws: SurveillanceError.self) {
        try AlarmDelivery(alarm: Alarm(id: "A 1", kind: "fire", building: "b", raisedAt: .zero), recipients: [], policy: AlarmDeliveryPolicy())
    }
    #expect(throws: SurveillanceError(.invalidPolicy, "accept-timeout must be longer than 0 s, not 0.0 seconds")) {
        try AlarmDelivery(alarm: fireAlarm, recipients: [], policy: AlarmDeliveryPolicy(acceptTimeout: .zero))
    }
    #expect(throws: SurveillanceError.self) {
        try AlarmDelivery(alarm: fireAlarm, recipients: [], policy: AlarmDeliveryPolicy(maxAttemptsPerSupporter: 0))
    }
}

@Test func machineRebuiltFromItsStepsResumesWhereItStopped() throws {
    let policy = AlarmDeliveryPolicy(acceptTimeout: .seconds(30))
    var delivery = try machine([bob, dave], policy)
    _ = delivery.start(at: .seconds(100))
    _ = delivery.deliveryResult(attempt: 1, .delivered, at: .seconds(100))
    _ = delivery.timerFired(AlarmTimer(alarmID: "A-1", purpose: .acceptDeadline, deadline: .seconds(130)), at: .seconds(130))
    // The node dies after sending attempt 2 to dave, before its result.
    var restored = try AlarmDelivery(restoring: fireAlarm, steps: delivery.steps, policy: policy)
    #expect(restored == delivery)
    let resumed = restored.resume(at: .seconds(140))
    #expect(resumed.timers.contains(AlarmTimer(alarmID: "A-1", purpose: .acceptDeadline, deadline: .seconds(160))))
    #expect(resumed.steps.first == .deliveryFailed(attempt: 2, reason: "the node restarted before the result came"))
    let retry = try #require(resumed.timers.first { $0.purpose == .retry })
    #expect(restored.timerFired(retry, at: retry.deadline).sentTo == ["dave NOTIFY"])
}

@Test func restoringRefusesARecordThatCannotComeFromTheMachine() {
    #expect(throws: SurveillanceError.self) {
        try AlarmDelivery(restoring: fireAlarm, steps: [], policy: AlarmDeliveryPolicy())
    }
    let forged = [
        AlarmStep(time: .seconds(100), .raised), AlarmStep(time: .seconds(100), .selected([bob])),
        AlarmStep(time: .seconds(100), .contacted(attempt: 3, recipient: 0, supporter: bob.supporter, channel: .notify)),
    ]
    #expect(throws: SurveillanceError.self) {
        try AlarmDelivery(restoring: fireAlarm, steps: forged, policy: AlarmDeliveryPolicy())
    }
    let backwards = [AlarmStep(time: .seconds(100), .raised), AlarmStep(time: .seconds(99), .selected([bob]))]
    #expect(throws: SurveillanceError.self) {
        try AlarmDelivery(restoring: fireAlarm, steps: backwards, policy: AlarmDeliveryPolicy())
    }
}

@Test func resumingBetweenRoundsAsksForASelectionAgainAndKeepsTheRestartTime() throws {
    let policy = AlarmDeliveryPolicy(restartDelay: .seconds(60))
    var delivery = try machine([bob], policy)
    _ = delivery.start(at: .seconds(100))
    _ = try delivery.answered(by: bob.supporter, .decline, at: .seconds(101))
    var restored = try AlarmDelivery(restoring: fireAlarm, steps: delivery.steps, policy: policy)
    #expect(
        restored.resume(at: .seconds(130)) == [
            .requestSelection(alarmID: "A-1"), .scheduleTimer(AlarmTimer(alarmID: "A-1", purpose: .restart, deadline: .seconds(161))),
        ])
}

@Test func resumingAfterTheLastFailureWasStoredWithoutItsEscalationEscalates() throws {
    let policy = AlarmDeliveryPolicy(maxAttemptsPerSupporter: 1)
    var delivery = try machine([bob, dave], policy)
    _ = delivery.start(at: .seconds(100))
    // Only the failure reached the store before the node died.
    let steps = delivery.steps + [AlarmStep(time: .seconds(101), .deliveryFailed(attempt: 1, reason: "503"))]
    var restored = try AlarmDelivery(restoring: fireAlarm, steps: steps, policy: policy)
    let resumed = restored.resume(at: .seconds(105))
    #expect(resumed.steps.contains(.escalated(supporter: bob.supporter, reason: .unreachable)))
    #expect(resumed.sentTo == ["dave NOTIFY"])
}
