import Composition
import Foundation
import Presence
import Rules
import ServicePlatform
import Testing

@testable import Surveillance

// The shipped compositions run end to end in one process: every service of the chain is its real component,
// wired as the composition says through the fake runtime. Process tests over SIP come with the runtime.

private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func chain(_ file: String) async throws -> (FakeRuntime, InMemoryAlarmStore) {
    let composition = try CompositionLoader().composition(contentsOf: packageRoot.appendingPathComponent(file).path)
    let alarms = InMemoryAlarmStore()
    let runtime = try FakeRuntime(
        composition: composition,
        factories: SurveillanceComponents.factories(
            readings: InMemorySensorReadingStore(), state: InMemorySurveillanceStateStore(), alarms: alarms),
        clock: ManualClock())
    try await runtime.start()
    return (runtime, alarms)
}

private func registerSupporter(
    _ runtime: FakeRuntime, _ name: String, phone: SupporterPhoneKind = .smfNode, port: Int
) async -> ServiceDirectAnswer {
    let body = SupporterRegistrationBody(
        supporter: nil, kinds: ["fire"], buildings: ["house-12"], contact: "sip:\(name)@127.0.0.1:\(port)", phoneKind: phone)
    return await runtime.direct(
        "PUBLISH", event: "m2m-supporter-registration", from: "sip:\(name)@north.example", to: "registry",
        contentType: "application/smf-supporter-registration+json", String(decoding: body.encoded(), as: UTF8.self))
}

/// Two smoke detectors of house 12 report smoke by PUBLISH to the recorder (a sensor gateway's array).
private func smoke(_ runtime: FakeRuntime) async -> ServiceDirectAnswer {
    let now = runtime.clock.now
    let readings = [
        SensorReadingBody(sensorID: "smoke-attic", building: "house-12", kind: "smoke", value: 0.8, time: now, location: house12),
        SensorReadingBody(sensorID: "smoke-cellar", building: "house-12", kind: "smoke", value: 0.6, time: now, location: house12),
    ]
    return await runtime.direct(
        "PUBLISH", event: "m2m-sensor", from: "sip:gateway@house-12", to: "recorder", contentType: "application/smf-sensor+json",
        String(decoding: SensorReadingBody.encodedBatch(readings), as: UTF8.self))
}

@Test func variant1AlarmEscalatesOnDeclineAndSilenceAndIsAcceptedByAPhoneReply() async throws {
    let (runtime, alarms) = try await chain("Services/building-surveillance/variant1.xml")
    #expect(await registerSupporter(runtime, "bob", port: 5071) == .ok)
    #expect(await registerSupporter(runtime, "dave", port: 5073) == .ok)
    #expect(await registerSupporter(runtime, "carol", phone: .sipPhone, port: 5072) == .ok)
    for (name, latitude) in [("bob", 52.5210), ("dave", 52.5245), ("carol", 52.5290)] {
        let answer = await runtime.direct(
            "PUBLISH", event: "presence", from: "sip:\(name)@north.example", to: "availability", contentType: "application/pidf+xml",
            pidf("sip:\(name)@north.example", latitude: latitude, longitude: 13.4050))
        #expect(answer == .ok)
    }
    await runtime.clock.advance(by: .seconds(12))
    #expect(try alarms.recentAlarms(limit: 10).isEmpty, "the simulated detectors report no smoke")

    #expect(await smoke(runtime) == .ok)
    try #require(await eventually { runtime.sip.states.count == 1 })
    let alarmID = try #require(try alarms.recentAlarms(limit: 10).first?.alarm.id)
    #expect(runtime.sip.states[0].resource.hasSuffix(";supporter=bob%40north.example"), "bob is nearest")
    let told = try AlarmMessages.alarm(fromBody: runtime.sip.states[0].body)
    #expect(told.kind == "fire" && told.building == "house-12" && told.buildingLocation == house12)

    let declined = await runtime.direct(
        "MESSAGE", from: "sip:bob@north.example", to: "notifier", contentType: "application/smf-alarm-answer+json",
        String(decoding: AlarmMessages.answerBody(alarmID: alarmID, .decline), as: UTF8.self))
    #expect(declined == .ok)
    try #require(await eventually { runtime.sip.states.last?.resource.hasSuffix(";supporter=dave%40north.example") == true })

    await runtime.clock.advance(by: .seconds(59))
    #expect(runtime.sip.messages.isEmpty)
    await runtime.clock.advance(by: .seconds(1))
    try #require(await eventually { runtime.sip.messages.map(\.to) == ["sip:carol@127.0.0.1:5072"] }, "dave said nothing for 60 s")
    #expect(runtime.sip.messages.first?.text.contains("Reply \"ok \(alarmID)\" to accept") == true)

    let accepted = await runtime.direct("MESSAGE", from: "sip:carol@north.example", to: "notifier", contentType: "text/plain", "ok")
    #expect(accepted == .ok)
    let record = try #require(try alarms.record(id: alarmID))
    #expect(record.state == .accepted && record.acceptedBy == "sip:carol@north.example")
    #expect(AlarmListFormatter.row(record)[5] == "bob NOTIFY, dave NOTIFY, carol MESSAGE")
    let outcome = try DeliveryOutcomeBody(parsing: try #require(runtime.context("notifier").emitted(on: "deliveries").first).body)
    #expect(outcome.by == "sip:carol@north.example" && outcome.told.count == 3)
    #expect(try alarms.recentAlarms(limit: 10).count == 1, "one alarm for the fire, however many readings followed")
    await runtime.stop()
}

@Test func variant2AsksSupportersBySubscribeEscalatesAndAPhoneAccepts() async throws {
    let (runtime, alarms) = try await chain("Services/building-surveillance/variant2.xml")
    #expect(await registerSupporter(runtime, "erin", port: 5081) == .ok)
    #expect(await registerSupporter(runtime, "frank", port: 5082) == .ok)
    #expect(await registerSupporter(runtime, "gina", phone: .sipPhone, port: 5083) == .ok)

    #expect(await smoke(runtime) == .ok)
    try #require(await eventually { runtime.sip.subscriptions.count == 1 })
    #expect(
        runtime.sip.messages.filter { $0.to == "sip:archive@house-3.north-street" }.count == 2,
        "the forwarder sent the readings to the archive named in its configuration")
    let alarmID = try #require(try alarms.recentAlarms(limit: 10).first?.alarm.id)
    let erin = runtime.sip.subscriptions[0]
    #expect(erin.to == "sip:erin@127.0.0.1:5081", "registration order")
    erin.updates.yield(.notification(contentType: "application/smf-alarm-answer+json", body: AlarmMessages.answerBody(alarmID: alarmID, .decline)))
    try #require(await eventually { runtime.sip.subscriptions.count == 2 })
    #expect(runtime.sip.subscriptions[1].to == "sip:frank@127.0.0.1:5082")
    runtime.sip.subscriptions[1].updates.yield(.notification(contentType: nil, body: []))

    await runtime.clock.advance(by: .seconds(45))
    try #require(await eventually { runtime.sip.messages.contains { $0.to == "sip:gina@127.0.0.1:5083" } }, "frank was silent for 45 s")
    let accepted = await runtime.direct("MESSAGE", from: "sip:gina@127.0.0.1:5083", to: "notifier", contentType: "text/plain", "yes")
    #expect(accepted == .ok)
    let record = try #require(try alarms.record(id: alarmID))
    #expect(record.acceptedBy == "sip:gina@north.example")
    #expect(AlarmListFormatter.row(record)[5] == "erin SUBSCRIBE, frank SUBSCRIBE, gina MESSAGE")
    let steps = record.steps.map(\.kind)
    #expect(steps.contains(.escalated(supporter: "sip:erin@north.example", reason: .declined)))
    #expect(steps.contains(.escalated(supporter: "sip:frank@north.example", reason: .noAnswer)))
    try #require(await eventually { runtime.sip.cancelled == 2 })
    await runtime.stop()
}
