import ServicePlatform
import Rules
import Testing

@testable import Surveillance

@Test func serviceMissingItsRefreshesIsReportedDownOnceAndBackWhenItRefreshes() throws {
    var watchdog = try ServiceWatchdog(missedRefreshesAllowed: 3)
    try watchdog.watch("notifier", provider: "sip:node-7@127.0.0.1", every: .seconds(30), at: .zero)
    try watchdog.watch("selector", provider: "sip:node-6@127.0.0.1", every: .seconds(10), at: .zero)
    #expect(watchdog.nextCheck == .seconds(30))
    #expect(watchdog.refreshed("selector", at: .seconds(25)) == nil)
    #expect(watchdog.check(at: .seconds(54)).isEmpty, "the selector refreshed at 25 s; 2 intervals missed so far")
    let down = watchdog.check(at: .seconds(56))
    #expect(down.map(\.service) == ["selector"])
    #expect(down.first?.missedRefreshes == 3)
    #expect(down.first?.description == "service selector on sip:node-6@127.0.0.1 is down: 3 refreshes missed, last seen at 25.0 seconds")
    #expect(watchdog.check(at: .seconds(57)).isEmpty, "reported once")
    #expect(watchdog.nextCheck == .seconds(90))
    let notifier = watchdog.check(at: .seconds(90))
    #expect(notifier.map(\.description) == ["service notifier on sip:node-7@127.0.0.1 is down: 3 refreshes missed, last seen never"])
    #expect(watchdog.downServices == ["notifier", "selector"])
    let back = watchdog.refreshed("selector", at: .seconds(95))
    #expect(back?.kind == .recovered)
    #expect(watchdog.downServices == ["notifier"])
    #expect(watchdog.refreshed("unknown", at: .seconds(95)) == nil)
}

@Test func watchdogRefusesNonsenseSettings() {
    #expect(throws: SurveillanceError.self) { try ServiceWatchdog(missedRefreshesAllowed: 0) }
    #expect(throws: SurveillanceError.self) {
        var watchdog = try ServiceWatchdog()
        try watchdog.watch("x", provider: "p", every: .zero, at: .zero)
    }
}

@Test func alarmsTableShowsWhoWasToldWhoAcceptedAndLatencies() throws {
    let raised = Duration.seconds(1_795_420_800)
    let alarm = Alarm(id: "A-1", kind: "fire", severity: .critical, building: "house-12", raisedAt: raised)
    var delivery = try AlarmDelivery(alarm: alarm, recipients: [bob, carol], policy: AlarmDeliveryPolicy())
    var steps: [AlarmDeliveryAction] = delivery.start(at: raised + .milliseconds(3))
    steps += try delivery.answered(by: bob.supporter, .decline, at: raised + .milliseconds(900))
    steps += try delivery.answered(by: carol.supporter, .accept, at: raised + .milliseconds(12_400))
    let accepted = AlarmRecord(alarm: alarm, steps: delivery.steps)
    let open = AlarmRecord(
        alarm: Alarm(id: "A-2", kind: "intrusion", building: "house-14", raisedAt: raised + .seconds(300)),
        steps: [AlarmStep(time: raised + .seconds(300), .raised)])

    #expect(accepted.state == .accepted && accepted.acceptedBy == carol.supporter && open.state == .open)
    #expect(
        AlarmListFormatter.table([accepted, open]) == [
            "ID   RAISED (UTC)              BUILDING  KIND       STATE     TOLD                       ACCEPTED BY  FIRST CONTACT  ACCEPTED AFTER",
            "A-1  2026-11-23T08:00:00.000Z  house-12  fire       accepted  bob NOTIFY, carol MESSAGE  carol        3 ms           12.4 s",
            "A-2  2026-11-23T08:05:00.000Z  house-14  intrusion  open      -                          -            -              -",
        ])
    #expect(
        AlarmListFormatter.tail(accepted, from: 2) == [
            "2026-11-23T08:00:00.003Z A-1 contacted bob (sip:bob@north.example) by NOTIFY, attempt 1",
            "2026-11-23T08:00:00.900Z A-1 declined by bob",
            "2026-11-23T08:00:00.900Z A-1 escalated from bob: declined",
            "2026-11-23T08:00:00.900Z A-1 contacted carol (sip:carol@north.example) by MESSAGE, attempt 2",
            "2026-11-23T08:00:12.400Z A-1 accepted by carol (sip:carol@north.example)",
        ])
    #expect(AlarmListFormatter.latency(.seconds(245)) == "4 min 05 s")
    #expect(AlarmListFormatter.timestamp(.milliseconds(-1)) == "1969-12-31T23:59:59.999Z")
}

@Test func alarmsSurviveARestartThroughTheStoreAndResume() throws {
    let store = InMemoryAlarmStore()
    let policy = AlarmDeliveryPolicy(acceptTimeout: .seconds(30))
    var delivery = try AlarmDelivery(alarm: fireAlarm, recipients: [bob, dave], policy: policy)
    let start = delivery.start(at: .seconds(100))
    // Stored before it is acknowledged: the raised step goes in with the alarm.
    try store.create(AlarmRecord(alarm: fireAlarm, steps: start.recordedSteps))
    #expect(try store.record(id: "A-1")?.steps.first?.kind == .raised)
    try store.record(delivery.deliveryResult(attempt: 1, .delivered, at: .seconds(101)), of: fireAlarm.id)
    #expect(throws: SurveillanceError.self) { try store.create(AlarmRecord(alarm: fireAlarm, steps: [])) }

    // Restart: read the open alarms back and resume them.
    let open = try store.openAlarms()
    #expect(open.map(\.alarm.id) == ["A-1"])
    var resumed = try #require(open.first).delivery(policy: policy)
    #expect(resumed == delivery)
    let actions = resumed.resume(at: .seconds(110))
    #expect(actions == [.scheduleTimer(AlarmTimer(alarmID: "A-1", purpose: .acceptDeadline, deadline: .seconds(130)))])
    try store.record(try resumed.answered(by: bob.supporter, .accept, at: .seconds(111)), of: fireAlarm.id)
    #expect(try store.openAlarms().isEmpty)
    #expect(try store.record(id: "A-1")?.acceptedBy == bob.supporter)
    #expect(throws: SurveillanceError.self) { try store.append([AlarmStep(time: .zero, .raised)], to: "nope") }
}

@Test func anAlarmsHistoryShowsItsPathHopByHopWhoWasToldAndWhoAccepted() throws {
    let raised = Duration.seconds(1_795_420_800)
    let alarm = Alarm(id: "A-1", kind: "fire", severity: .critical, building: "house-12", raisedAt: raised, summary: "rule fire")
    var delivery = try AlarmDelivery(alarm: alarm, recipients: [bob, carol], policy: AlarmDeliveryPolicy())
    _ = delivery.start(at: raised + .milliseconds(30))
    _ = delivery.deliveryResult(attempt: 1, .delivered, at: raised + .milliseconds(32))
    _ = try delivery.answered(by: bob.supporter, .decline, at: raised + .milliseconds(900))
    _ = try delivery.answered(by: carol.supporter, .accept, at: raised + .milliseconds(12_400))
    let start = (raised - .milliseconds(10)).wholeNanoseconds
    let trace = [
        ServiceHop(
            service: "recorder", type: "sensor-recorder", node: "sip:house-12@h:1", action: .request, port: "PUBLISH m2m-sensor",
            detail: "from sip:gw@h:9", atNanoseconds: start),
        ServiceHop(service: "recorder", type: "sensor-recorder", node: "sip:house-12@h:1", action: .emitted, port: "forwards", atNanoseconds: start + 1_500_000),
        ServiceHop(
            service: "notifier", type: "supporter-notifier", node: "sip:n@h:7", action: .received, port: "selections", detail: "by wire notify",
            atNanoseconds: start + 39_000_000),
    ]
    let lines = AlarmListFormatter.show(AlarmRecord(alarm: alarm, steps: delivery.steps, trace: trace))
    #expect(lines[0] == "alarm A-1: critical fire in house-12, accepted (accepted by sip:carol@north.example)")
    #expect(lines.contains("  0.000 ms  +0.000 ms  recorder (sensor-recorder)     sip:house-12@h:1  took PUBLISH m2m-sensor from sip:gw@h:9"))
    #expect(lines.contains("  1.500 ms  +1.500 ms  recorder (sensor-recorder)     sip:house-12@h:1  emitted on forwards"))
    #expect(lines.contains("  39.0 ms   +37.5 ms   notifier (supporter-notifier)  sip:n@h:7         received on selections by wire notify"))
    #expect(lines.contains("  40.0 ms     contacted bob (sip:bob@north.example) by NOTIFY, attempt 1"))
    #expect(lines.contains("  bob    NOTIFY   at 40.0 ms   declined"))
    #expect(lines.contains("  carol  MESSAGE  at 910.0 ms  accepted"))
    #expect(lines.last == "accepted by sip:carol@north.example 12410.0 ms after the reading (12.4 s after the alarm was raised)")
    // Without a path, times count from the alarm's raising.
    let bare = AlarmListFormatter.show(AlarmRecord(alarm: alarm, steps: [AlarmStep(time: raised, .raised)]))
    #expect(bare.contains("path: not recorded (the alarm came without a trace)"))
    #expect(bare.contains("  nobody yet"))
    #expect(bare.last == "not accepted yet")
}
