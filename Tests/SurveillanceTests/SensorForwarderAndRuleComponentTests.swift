import Composition
import Foundation
import Presence
import Rules
import ServicePlatform
import Testing

@testable import Surveillance

// MARK: - Forwarder

private func forwardValue(_ destination: String?, id: String = "f1") -> ServiceValue {
    ServiceValue(
        id: id, contentType: SurveillanceMediaType.forwardRequest,
        body: ForwardRequestBody(
            destination: destination,
            reading: SensorReadingBody(sensorID: "smoke-kitchen", building: "house-12", kind: "smoke", value: 0.8, time: testEpoch)
        ).encoded(),
        attributes: ["building": "house-12", "sensor": "smoke-kitchen"])
}

private func forwarder(_ parameters: [String: String] = [:]) throws -> (any ServiceComponent, FakeContext) {
    let info = instance("sensor-forwarder", id: "forwarder", parameters)
    return (try SensorForwarderFactory().makeComponent(for: info), FakeContext(instance: info, clock: ManualClock()))
}

@Test func forwarderWithoutADestinationSendsTheReadingToItsWiredConsumers() async throws {
    let (forwarder, context) = try forwarder()
    try await forwarder.receive(.value(port: "requests", wire: "forward", forwardValue(nil)), context: context)
    let out = context.emitted(on: "readings")
    #expect(out.count == 1)
    #expect(out.first?.attributes == ["building": "house-12", "kind": "smoke", "sensor": "smoke-kitchen"])
    #expect(try SensorReadingBody(parsing: out.first?.body ?? []).value == 0.8)
    #expect(out.first?.id == "f1/reading", "derived from the request's id, so a replacement emits the same")
    #expect(context.fakeSIP.messages.isEmpty)
}

@Test func forwarderSendsToTheRequestsDestinationElseItsOwnByMessage() async throws {
    let (forwarder, context) = try forwarder(["destination": "sip:archive@house-3.north-street"])
    try await forwarder.receive(.value(port: "requests", wire: "w", forwardValue("sip:evaluator@house-7")), context: context)
    try await forwarder.receive(.value(port: "requests", wire: "w", forwardValue(nil, id: "f2")), context: context)
    #expect(context.fakeSIP.messages.map(\.to) == ["sip:evaluator@house-7", "sip:archive@house-3.north-street"])
    #expect(context.fakeSIP.messages.allSatisfy { $0.contentType == "application/smf-sensor+json" })
    #expect(try SensorReadingBody(parsing: context.fakeSIP.messages[0].body).sensorID == "smoke-kitchen")
    #expect(context.emitted.isEmpty)
}

@Test func forwarderRefusesARequestWhoseMessageFailedSoItComesAgain() async throws {
    let (forwarder, context) = try forwarder()
    context.fakeSIP.answerMessages { _ in .failed(statusCode: 480, reason: "Temporarily Unavailable") }
    await #expect {
        try await forwarder.receive(.value(port: "requests", wire: "w", forwardValue("sip:archive@h")), context: context)
    } throws: { error in
        "\(error)".contains("480 Temporarily Unavailable")
    }
    #expect(throws: ServicePlatformError.self) {
        try SensorForwarderFactory().makeComponent(for: instance("sensor-forwarder", ["destination": "archive"]))
    }
}

// MARK: - Rules

let fireRule = Rule(
    id: "fire", alarmKind: "fire", severity: .critical,
    condition: .any([
        .count(RuleSelector(kind: "smoke"), .above(0.3), sensors: 2, within: .seconds(60)),
        .sustained(RuleSelector(kind: "temperature"), .above(60), for: .seconds(30)),
    ]))

private func evaluator(
    _ type: String = "event-evaluator", _ parameters: [String: String] = ["mode": "push"], rules: [Rule] = [fireRule]
) async throws -> (any ServiceComponent, FakeContext) {
    let factory: any ServiceComponentFactory = type == "rule" ? RuleComponentFactory() : EventEvaluatorFactory()
    return try await started(factory, instance(type, id: "evaluator", parameters, rules: rules))
}

private func reading(
    _ sensor: String, _ kind: String, _ value: Double, at time: Duration, building: String = "house-12",
    location: PresenceGeodeticPosition? = nil, id: String? = nil
) -> ServiceValue {
    .reading(
        SensorReadingBody(sensorID: sensor, building: building, kind: kind, value: value, time: time, location: location),
        id: id ?? "\(sensor)@\(time)")
}

@Test func twoSmokeDetectorsRaiseOneFireAlarmWithTheBuildingsLocation() async throws {
    let (evaluator, context) = try await evaluator()
    let home = PresenceGeodeticPosition(latitude: 52.52, longitude: 13.405)
    try await evaluator.receive(.value(port: "readings", wire: "evaluate", reading("k", "smoke", 0.7, at: testEpoch, location: home)), context: context)
    #expect(context.emitted.isEmpty)
    try await evaluator.receive(.value(port: "readings", wire: "evaluate", reading("h", "smoke", 0.5, at: testEpoch + .seconds(5))), context: context)
    try await evaluator.receive(.value(port: "readings", wire: "evaluate", reading("h", "smoke", 0.6, at: testEpoch + .seconds(6))), context: context)
    let alarms = context.emitted(on: "alarms")
    #expect(alarms.count == 1, "edge-triggered: a detector that keeps reporting raises one alarm")
    let alarm = try AlarmMessages.alarm(fromBody: try #require(alarms.first).body)
    #expect(alarm.kind == "fire" && alarm.severity == .critical && alarm.building == "house-12")
    #expect(alarm.buildingLocation == home)
    #expect(alarm.id.hasPrefix("house-12-fire-1795420805000-"))
    #expect(alarms.first?.id == "alarm:" + alarm.id)
    #expect(alarms.first?.attributes["kind"] == "fire" && alarms.first?.attributes["building"] == "house-12")
}

@Test func sustainedHeatRaisesAnAlarmWhenTimePassesWithNoNewReading() async throws {
    let (evaluator, context) = try await evaluator()
    try await evaluator.receive(.value(port: "readings", wire: "w", reading("t", "temperature", 70, at: testEpoch)), context: context)
    await context.manualClock.advance(by: .seconds(10))
    try await evaluator.receive(.value(port: "readings", wire: "w", reading("t", "temperature", 72, at: testEpoch + .seconds(10))), context: context)
    await context.manualClock.advance(by: .seconds(19))
    #expect(context.emitted.isEmpty, "29 s of heat is not yet 30")
    await context.manualClock.advance(by: .seconds(1))
    try #require(await eventually { context.emitted(on: "alarms").count == 1 }, "raised at 30 s by the timer")
    let alarm = try AlarmMessages.alarm(fromBody: context.emitted(on: "alarms")[0].body)
    #expect(alarm.raisedAt == testEpoch + .seconds(30))
    await evaluator.stop()
}

@Test func pullModeWatchesOnlyItsBuildingAndReevaluatesEveryPollInterval() async throws {
    let window = Rule(id: "quiet", alarmKind: "silence", severity: .minor, condition: .not(.count(RuleSelector(kind: "motion"), .equal(1), sensors: 1, within: .seconds(20))))
    let (evaluator, context) = try await evaluator(
        "event-evaluator", ["mode": "pull", "building": "house-12", "poll-interval": "5s"], rules: [window])
    try await evaluator.receive(.value(port: "readings", wire: "pull", reading("m", "motion", 1, at: testEpoch)), context: context)
    try await evaluator.receive(
        .value(port: "readings", wire: "pull", reading("m2", "motion", 0, at: testEpoch, building: "house-14")), context: context)
    #expect(context.emitted.isEmpty)
    await context.manualClock.advance(by: .seconds(25))
    let alarms = context.emitted(on: "alarms").map { try? AlarmMessages.alarm(fromBody: $0.body) }
    #expect(alarms.map { $0?.building } == ["house-12"], "house-14 is not this evaluator's building")
    await evaluator.stop()
}

@Test func ruleComponentRaisesOnItsEventsPort() async throws {
    let motion = Rule(id: "night", alarmKind: "intrusion", severity: .major, condition: .count(RuleSelector(kind: "motion"), .equal(1), sensors: 2, within: .seconds(30)))
    let (rule, context) = try await evaluator("rule", ["building": "house-12"], rules: [motion])
    try await rule.receive(.value(port: "readings", wire: "motion", reading("m1", "motion", 1, at: testEpoch)), context: context)
    try await rule.receive(.value(port: "readings", wire: "motion", reading("m2", "motion", 1, at: testEpoch + .seconds(3))), context: context)
    #expect(context.emitted(on: "events").count == 1)
    #expect(context.emitted(on: "events").first?.attributes["kind"] == "intrusion")
}

@Test func anAlarmThatCouldNotBeEmittedIsSentWhenTheReadingComesAgain() async throws {
    let (evaluator, context) = try await evaluator()
    try await evaluator.receive(.value(port: "readings", wire: "w", reading("k", "smoke", 0.7, at: testEpoch)), context: context)
    context.failEmits("selector unreachable")
    let second = reading("h", "smoke", 0.7, at: testEpoch + .seconds(1))
    await #expect(throws: (any Error).self) { try await evaluator.receive(.value(port: "readings", wire: "w", second), context: context) }
    context.failEmits(nil)
    try await evaluator.receive(.value(port: "readings", wire: "w", second), context: context)
    #expect(context.emitted(on: "alarms").count == 1, "the alarm was kept, not lost with the refused reading")
}

@Test func readingsSentDirectlyAreEvaluatedAndBadOnesRefused() async throws {
    let (evaluator, context) = try await evaluator()
    let body = "[" + sensorJSON("k", "smoke", 0.9, time: testEpoch) + "," + sensorJSON("h", "smoke", 0.9, time: testEpoch) + "]"
    let answer = await evaluator.handle(
        request("MESSAGE", from: "sip:forwarder@h", to: context.instance, contentType: "application/smf-sensor+json", body), context: context)
    #expect(answer == .ok)
    #expect(context.emitted(on: "alarms").count == 1)
    let bad = await evaluator.handle(
        request("MESSAGE", from: "sip:f@h", to: context.instance, contentType: "application/smf-sensor+json", "{}"), context: context)
    #expect(bad.statusCode == 400 && bad.reason?.contains("\"id\" is missing") == true)
    let notify = await evaluator.handle(
        request("NOTIFY", from: "sip:f@h", to: context.instance, contentType: "application/smf-sensor+json", body), context: context)
    #expect(notify.statusCode == 405)
}

@Test func aWireWhoseReadingsStopIsReportedDownThenBack() async throws {
    let (evaluator, context) = try await evaluator()
    for second in [0, 10, 20] {
        try await evaluator.receive(
            .value(port: "readings", wire: "evaluate", reading("k", "smoke", 0, at: testEpoch + .seconds(second))), context: context)
        await context.manualClock.advance(by: .seconds(10))
    }
    #expect(context.notices.isEmpty)
    await context.manualClock.advance(by: .seconds(25))
    try #require(await eventually { context.notices.count == 1 })
    #expect(context.notices.first?.contains("no readings on wire evaluate into evaluator") == true, "\(context.notices)")
    try await evaluator.receive(
        .value(port: "readings", wire: "evaluate", reading("k", "smoke", 0, at: testEpoch + .seconds(65))), context: context)
    #expect(context.notices.last?.contains("flow again") == true)
    await evaluator.stop()
}

@Test func evaluatorConfigurationErrorsNameTheProblem() {
    #expect {
        _ = try EventEvaluatorFactory().makeComponent(for: instance("event-evaluator", [:], rules: [fireRule]))
    } throws: { ($0 as? ServicePlatformError)?.message.contains("parameter 'mode' is required") == true }
    #expect {
        _ = try EventEvaluatorFactory().makeComponent(for: instance("event-evaluator", ["mode": "push"]))
    } throws: { ($0 as? ServicePlatformError)?.message.contains("declares no rules") == true }
    #expect {
        _ = try EventEvaluatorFactory().makeComponent(for: instance("event-evaluator", ["mode": "pull", "poll-interval": "soon"], rules: [fireRule]))
    } throws: { ($0 as? ServicePlatformError)?.message.contains("parameter 'poll-interval'") == true }
}

// MARK: - Simulated sensor

@Test func simulatedSensorReportsEveryIntervalAndTheEventValueFromItsStart() async throws {
    let info = instance(
        "simulated-sensor", id: "smoke-kitchen",
        ["sensor-id": "smoke-kitchen", "building": "house-12", "kind": "smoke", "interval": "10s", "event-at": "25s", "event-value": "0.8"])
    let sensor = try SimulatedSensorFactory().makeComponent(for: info)
    let context = FakeContext(instance: info, clock: ManualClock())
    try await sensor.start(context: context)
    await context.manualClock.advance(by: .seconds(40))
    await sensor.stop()
    let readings = try context.emitted(on: "readings").map { try SensorReadingBody(parsing: $0.body) }
    #expect(readings.map { $0.time.map { ($0 - testEpoch) / .seconds(1) } } == [0, 10, 20, 25, 30, 40].map(Double.init))
    #expect(readings.map(\.value) == [0, 0, 0, 0.8, 0.8, 0.8])
    #expect(context.emitted(on: "readings").first?.attributes == ["building": "house-12", "kind": "smoke", "sensor": "smoke-kitchen"])
    #expect(throws: ServicePlatformError.self) { try SimulatedSensorFactory().makeComponent(for: instance("simulated-sensor", ["kind": "smoke"])) }
}
