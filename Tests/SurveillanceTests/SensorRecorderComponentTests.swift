import Composition
import Foundation
import ServicePlatform
import Testing

@testable import Surveillance

/// A reading store that counts its transactions, can be slow (so requests pile up behind a commit) and can
/// fail.
final class InstrumentedReadingStore: SensorReadingStore, @unchecked Sendable {
    let inner = InMemorySensorReadingStore()
    private let lock = NSLock()
    private var commits = 0
    private var failure: String?
    let delay: TimeInterval

    init(delay: TimeInterval = 0) {
        self.delay = delay
    }

    var commitCount: Int { lock.withLock { commits } }
    func fail(_ reason: String?) { lock.withLock { failure = reason } }

    func store(_ readings: [StoredReading], recorder: String) throws -> [StoredReading?] {
        if let failure = lock.withLock({ failure }) { throw SurveillanceError(.invalidRecord, failure) }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        lock.withLock { commits += 1 }
        return try inner.store(readings, recorder: recorder)
    }

    func latest(recorder: String, building: String?, sensor: String?) throws -> [StoredReading] {
        try inner.latest(recorder: recorder, building: building, sensor: sensor)
    }

    func readings(recorder: String, building: String?, sensor: String?, since: Duration, limit: Int) throws -> [StoredReading] {
        try inner.readings(recorder: recorder, building: building, sensor: sensor, since: since, limit: limit)
    }

    func deleteReadings(recorder: String, before cutoff: Duration) throws -> Int {
        try inner.deleteReadings(recorder: recorder, before: cutoff)
    }

    func count(recorder: String) throws -> Int { try inner.count(recorder: recorder) }
}

private func recorder(
    _ store: any SensorReadingStore, _ parameters: [String: String] = [:]
) async throws -> (any ServiceComponent, FakeContext) {
    try await started(SensorRecorderFactory(store: store), instance("sensor-recorder", id: "recorder", parameters))
}

private let scope = instance("sensor-recorder", id: "recorder").stateScope

@Test func publishedReadingsAreStoredBeforeTheAnswerAndSentOnToBothPorts() async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store)
    let body = "[" + sensorJSON("smoke-kitchen", "smoke", 0.7, time: testEpoch) + "," + sensorJSON("smoke-hall", "smoke", 0.4, time: testEpoch)
        + "," + sensorJSON("door", "door", 1, building: "house-14", time: testEpoch) + "]"
    let answer = await recorder.handle(
        request("PUBLISH", event: "m2m-sensor", from: "sip:gw@house-12", to: context.instance, contentType: "application/smf-sensor+json", body),
        context: context)
    #expect(answer == .ok)
    #expect(try store.count(recorder: scope) == 3, "stored before the 200")
    #expect(store.commitCount == 1, "an array in one body is one commit")
    let readings = context.emitted(on: "readings")
    #expect(readings.map { $0.attributes["sensor"] } == ["smoke-kitchen", "smoke-hall", "door"])
    #expect(readings.last?.attributes == ["building": "house-14", "kind": "door", "sensor": "door"])
    let forwards = try context.emitted(on: "forwards").map { try ForwardRequestBody(parsing: $0.body) }
    #expect(forwards.map(\.reading.sensorID) == ["smoke-kitchen", "smoke-hall", "door"])
    #expect(forwards.allSatisfy { $0.destination == nil })
    #expect(forwards.first?.reading.value == 0.7)
}

@Test func aRepeatedPublishIsStoredOnceAndSentOnWithTheSameIDs() async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store)
    let publish = request(
        "PUBLISH", event: "m2m-sensor", from: "sip:gw@house-12", to: context.instance, contentType: "application/smf-sensor+json",
        sensorJSON("smoke-kitchen", "smoke", 0.7, time: testEpoch))
    #expect(await recorder.handle(publish, context: context) == .ok)
    #expect(await recorder.handle(publish, context: context) == .ok)
    #expect(try store.count(recorder: scope) == 1)
    let ids = context.emitted(on: "readings").map(\.id)
    #expect(ids.count == 2 && ids[0] == ids[1], "sent again under the same id: consumers drop the duplicate")
}

@Test func wireValuesAreIdempotentByValueID() async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store)
    let value = ServiceValue.reading(SensorReadingBody(sensorID: "s1", building: "house-12", kind: "smoke", value: 0.1), id: "s1@1")
    try await recorder.receive(.value(port: "readings", wire: "kitchen-in", value), context: context)
    try await recorder.receive(.value(port: "readings", wire: "kitchen-in", value), context: context)
    #expect(try store.count(recorder: scope) == 1)
}

@Test(arguments: [
    ("[{\"id\":\"a\",\"building\":\"b\",\"kind\":\"smoke\",\"value\":1},{\"id\":\"a\",\"building\":\"b\",\"kind\":\"smoke\",\"value\":\"hot\"}]",
     "reading 1: \"value\" must be a finite number, not a string"),
    ("{\"building\":\"b\",\"kind\":\"smoke\",\"value\":1}", "\"id\" is missing"),
    ("not json", "not valid JSON"),
    ("{\"id\":\"a\",\"building\":\"b\",\"kind\":\"smoke\",\"value\":1,\"latitude\":52.5}", "give both or neither"),
    ("[]", "empty array"),
])
func aBadSensorBodyIsRefusedWith400NamingTheProblemAndStoresNothing(body: String, problem: String) async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store)
    let answer = await recorder.handle(
        request("PUBLISH", event: "m2m-sensor", from: "sip:gw@h", to: context.instance, contentType: "application/smf-sensor+json", body),
        context: context)
    #expect(answer.statusCode == 400)
    #expect(answer.reason?.contains(problem) == true, "\(answer.reason ?? "")")
    #expect(try store.count(recorder: scope) == 0)
    #expect(context.emitted.isEmpty)
}

@Test func wrongMethodEventOrMediaTypeIsRefusedWithTheRightStatus() async throws {
    let (recorder, context) = try await recorder(InstrumentedReadingStore())
    let json = sensorJSON("s", "smoke", 1)
    func send(_ method: String, _ event: String?, _ type: String?) async -> Int {
        await recorder.handle(request(method, event: event, from: "sip:a@h", to: context.instance, contentType: type, json), context: context).statusCode
    }
    #expect(await send("SUBSCRIBE", "m2m-sensor", "application/smf-sensor+json") == 405)
    #expect(await send("PUBLISH", "presence", "application/smf-sensor+json") == 489)
    #expect(await send("PUBLISH", "m2m-sensor", "text/plain") == 415)
    #expect(await send("PUBLISH", "m2m-sensor;id=7", "application/smf-sensor+json; charset=utf-8") == 200)
}

@Test func onChangeReportingSendsOnlyChangedValuesAndRemembersThemAcrossARestart() async throws {
    let store = InstrumentedReadingStore()
    let (first, context) = try await recorder(store, ["report": "on-change"])
    for (index, value) in [0.0, 0.0, 0.5, 0.5].enumerated() {
        let reading = ServiceValue.reading(
            SensorReadingBody(sensorID: "s1", building: "house-12", kind: "smoke", value: value, time: testEpoch + .seconds(index)), id: "v\(index)")
        try await first.receive(.value(port: "readings", wire: "w", reading), context: context)
    }
    #expect(context.emitted(on: "readings").map(\.id) == ["v0", "v2"])
    #expect(try store.count(recorder: scope) == 4, "every reading is stored, reported or not")
    await first.stop()

    let (second, after) = try await recorder(store, ["report": "on-change"])
    let same = ServiceValue.reading(
        SensorReadingBody(sensorID: "s1", building: "house-12", kind: "smoke", value: 0.5, time: testEpoch + .seconds(10)), id: "v10")
    try await second.receive(.value(port: "readings", wire: "w", same), context: after)
    #expect(after.emitted.isEmpty, "the latest value came back from the store: 0.5 is no change")
}

@Test func aValueRequestForwardsTheLatestStoredValueToTheNamedDestination() async throws {
    let (recorder, context) = try await recorder(InstrumentedReadingStore())
    for (value, second) in [(0.1, 0), (0.9, 5)] {
        _ = await recorder.handle(
            request(
                "PUBLISH", event: "m2m-sensor", from: "sip:gw@h", to: context.instance, contentType: "application/smf-sensor+json",
                sensorJSON("smoke-kitchen", "smoke", value, time: testEpoch + .seconds(second))), context: context)
    }
    let before = context.emitted(on: "forwards").count
    let ask = #"{"sensor": "smoke-kitchen", "destination": "sip:archive@house-3.north-street"}"#
    let answer = await recorder.handle(
        request("MESSAGE", from: "sip:evaluator@h", to: context.instance, contentType: "application/smf-sensor-request+json", ask), context: context)
    #expect(answer == .ok)
    let forwards = try context.emitted(on: "forwards").dropFirst(before).map { try ForwardRequestBody(parsing: $0.body) }
    #expect(forwards.count == 1)
    #expect(forwards.first?.destination == "sip:archive@house-3.north-street")
    #expect(forwards.first?.reading.value == 0.9, "the latest value")

    let unknown = await recorder.handle(
        request("MESSAGE", from: "sip:e@h", to: context.instance, contentType: "application/smf-sensor-request+json", #"{"sensor": "nope"}"#),
        context: context)
    #expect(unknown.statusCode == 404)
    let bad = await recorder.handle(
        request("MESSAGE", from: "sip:e@h", to: context.instance, contentType: "application/smf-sensor-request+json", #"{"destination": "mailto:x"}"#),
        context: context)
    #expect(bad.statusCode == 400)
    #expect(bad.reason?.contains("neither") == true)
}

@Test func aStoreFailureRefusesTheInputAndAnswers500() async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store)
    store.fail("disk full")
    let value = ServiceValue.reading(SensorReadingBody(sensorID: "s1", building: "house-12", kind: "smoke", value: 1), id: "x")
    await #expect(throws: (any Error).self) { try await recorder.receive(.value(port: "readings", wire: "w", value), context: context) }
    let answer = await recorder.handle(
        request("PUBLISH", event: "m2m-sensor", from: "sip:gw@h", to: context.instance, contentType: "application/smf-sensor+json",
                sensorJSON("s1", "smoke", 1)), context: context)
    #expect(answer.statusCode == 500)
    #expect(context.emitted.isEmpty, "nothing goes on that was not stored")
}

@Test func readingsArrivingTogetherShareCommits() async throws {
    let store = InstrumentedReadingStore(delay: 0.02)
    let (recorder, context) = try await recorder(store)
    let answers = await withTaskGroup(of: Int.self) { group in
        for index in 0..<20 {
            group.addTask {
                await recorder.handle(
                    request("PUBLISH", event: "m2m-sensor", from: "sip:gw@h", to: context.instance, contentType: "application/smf-sensor+json",
                            sensorJSON("s\(index)", "smoke", 0.1, time: testEpoch)), context: context).statusCode
            }
        }
        return await group.reduce(into: []) { $0.append($1) }
    }
    #expect(answers == Array(repeating: 200, count: 20))
    #expect(try store.count(recorder: scope) == 20)
    #expect(store.commitCount < 20, "\(store.commitCount) commits for 20 concurrent PUBLISHes")
}

@Test func readingsOlderThanTheRetentionAreDeleted() async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store, ["retention": "1h"])
    _ = await recorder.handle(
        request("PUBLISH", event: "m2m-sensor", from: "sip:gw@h", to: context.instance, contentType: "application/smf-sensor+json",
                sensorJSON("old", "smoke", 0.1, time: testEpoch)), context: context)
    await context.manualClock.advance(by: .seconds(1800))
    _ = await recorder.handle(
        request("PUBLISH", event: "m2m-sensor", from: "sip:gw@h", to: context.instance, contentType: "application/smf-sensor+json",
                sensorJSON("new", "smoke", 0.1, time: testEpoch + .seconds(1800))), context: context)
    #expect(try store.count(recorder: scope) == 2)
    await context.manualClock.advance(by: .seconds(2400))
    try #require(await eventually { (try? store.count(recorder: scope)) == 1 })
    #expect(try store.latest(recorder: scope, building: nil, sensor: nil).map(\.body.sensorID) == ["new"])
    await recorder.stop()
}

@Test func aBadWireValueIsDroppedNotRefused() async throws {
    let store = InstrumentedReadingStore()
    let (recorder, context) = try await recorder(store)
    let bad = ServiceValue(id: "b", contentType: SurveillanceMediaType.sensorReading, text: "{\"id\": 3}")
    try await recorder.receive(.value(port: "readings", wire: "w", bad), context: context)
    #expect(try store.count(recorder: scope) == 0)
    #expect(context.emitted.isEmpty)
}

@Test func recorderConfigurationErrorsNameTheParameter() {
    #expect {
        _ = try SensorRecorderFactory(store: InMemorySensorReadingStore()).makeComponent(
            for: instance("sensor-recorder", ["report": "sometimes"]))
    } throws: { error in
        (error as? ServicePlatformError)?.message.contains("parameter 'report'") == true
    }
}
