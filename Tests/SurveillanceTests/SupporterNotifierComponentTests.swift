import Composition
import Foundation
import Presence
import Rules
import ServicePlatform
import Testing

@testable import Surveillance

/// An alarm store whose writes can be made to fail.
final class FlakyAlarmStore: AlarmStore, @unchecked Sendable {
    let inner = InMemoryAlarmStore()
    private let lock = NSLock()
    private var failing = false

    func fail(_ on: Bool) { lock.withLock { failing = on } }
    private func check() throws { if lock.withLock({ failing }) { throw SurveillanceError(.invalidRecord, "disk full") } }

    func create(_ record: AlarmRecord) throws {
        try check()
        try inner.create(record)
    }
    func append(_ steps: [AlarmStep], to alarmID: String) throws {
        try check()
        try inner.append(steps, to: alarmID)
    }
    func record(id: String) throws -> AlarmRecord? { try inner.record(id: id) }
    func openAlarms() throws -> [AlarmRecord] { try inner.openAlarms() }
    func recentAlarms(limit: Int) throws -> [AlarmRecord] { try inner.recentAlarms(limit: limit) }
}

struct NotifierHarness {
    let alarms = FlakyAlarmStore()
    let state = InMemorySurveillanceStateStore()
    let clock = ManualClock()
    let info: ServiceInstanceInfo

    init(_ parameters: [String: String]) {
        info = instance("supporter-notifier", id: "notifier", parameters)
    }

    /// A notifier over the harness's stores (a second call is the node after a restart).
    func start(sip: FakeSIP? = nil) async throws -> (any ServiceComponent, FakeContext) {
        try await started(SupporterNotifierFactory(alarms: alarms, state: state), info, clock: clock, sip: sip)
    }
}

func selectionValue(_ recipients: [(String, SupporterPhoneKind)], id: String = "A-1") -> ServiceValue {
    let alarm = Alarm(id: id, kind: "fire", severity: .critical, building: "house-12", buildingLocation: house12, raisedAt: testEpoch)
    var body = SelectionBody(alarm: alarm, selection: SupporterSelection(alarmID: id, selected: [], excluded: []))
    body.recipients = recipients.map { supporter, phone in
        SelectionBody.Recipient(
            supporter: supporter, contact: supporter.replacingOccurrences(of: "@n", with: "@127.0.0.1"), phone: phone,
            availability: .available, distanceKm: nil, reason: "test")
    }
    return ServiceValue(
        id: "selection:\(id):\(recipients.count)", contentType: SurveillanceMediaType.selection, body: body.encoded(),
        attributes: ["building": "house-12"])
}

private func answer(_ alarmID: String, _ decision: AlarmDecision) -> String {
    String(decoding: AlarmMessages.answerBody(alarmID: alarmID, decision), as: UTF8.self)
}

@Test func variant1StoresTheAlarmBeforeAcknowledgingNotifiesTheSupporterAndRecordsWhoAccepted() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    try await notifier.receive(.value(port: "selections", wire: "notify", selectionValue([("sip:bob@n", .smfNode)])), context: context)
    #expect(try harness.alarms.record(id: "A-1")?.state == .open, "stored when receive returned")
    #expect(try harness.state.entries(scope: harness.info.stateScope).map(\.key) == ["alarm:A-1"])
    try #require(await eventually { context.fakeSIP.states.count == 1 })
    let told = context.fakeSIP.states[0]
    #expect(told.package == "m2m-alarm" && told.contentType == "application/smf-alarm+json")
    #expect(told.resource == "sip:watch.notifier@127.0.0.1:5070;supporter=bob%40n")
    #expect(try AlarmMessages.alarm(fromBody: told.body).id == "A-1")
    // The NOTIFY goes out while the selection is handled; its result is recorded right after.
    #expect(await eventually { (try? harness.alarms.record(id: "A-1"))?.steps.map(\.kind).contains(.delivered(attempt: 1)) == true })

    let accepted = await notifier.handle(
        request("MESSAGE", from: "sip:bob@n", to: harness.info, contentType: "application/smf-alarm-answer+json", answer("A-1", .accept)),
        context: context)
    #expect(accepted == .ok)
    let record = try #require(try harness.alarms.record(id: "A-1"))
    #expect(record.state == .accepted && record.acceptedBy == "sip:bob@n")
    #expect(record.steps.map(\.kind).contains(.delivered(attempt: 1)))
    let outcome = try DeliveryOutcomeBody(parsing: try #require(context.emitted(on: "deliveries").first).body)
    #expect(outcome.outcome == "accepted" && outcome.by == "sip:bob@n")
    #expect(outcome.told.map { "\($0.supporter) \($0.channel.rawValue)" } == ["sip:bob@n NOTIFY"])
    #expect(context.emitted(on: "deliveries").first?.attributes["building"] == "house-12")
    #expect(try harness.state.entries(scope: harness.info.stateScope).isEmpty, "a reported alarm is no longer claimed")
    await notifier.stop()
}

@Test func aPhoneGetsAMessageAndAcceptsByReplying() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    try await notifier.receive(.value(port: "selections", wire: "n", selectionValue([("sip:carol@n", .sipPhone)])), context: context)
    try #require(await eventually { context.fakeSIP.messages.count == 1 })
    let message = context.fakeSIP.messages[0]
    #expect(message.to == "sip:carol@127.0.0.1" && message.contentType == "text/plain")
    #expect(message.text.hasPrefix("ALARM A-1: fire in house-12 (critical) at 52.52000,13.40500"))

    let gibberish = await notifier.handle(
        request("MESSAGE", from: "sip:carol@127.0.0.1", to: harness.info, contentType: "text/plain", "who is this?"), context: context)
    #expect(gibberish.statusCode == 400 && gibberish.reason?.contains("reply \"ok <alarm id>\"") == true)
    #expect(try harness.alarms.record(id: "A-1")?.state == .open, "not an answer: nothing changed")

    let stranger = await notifier.handle(
        request("MESSAGE", from: "sip:eve@n", to: harness.info, contentType: "text/plain", "ok A-1"), context: context)
    #expect(stranger.statusCode == 403)

    let reply = await notifier.handle(
        request("MESSAGE", from: "<sip:carol@127.0.0.1;transport=udp>", to: harness.info, contentType: "text/plain; charset=utf-8", "OK a-1!"),
        context: context)
    #expect(reply == .ok)
    #expect(try harness.alarms.record(id: "A-1")?.acceptedBy == "sip:carol@n", "matched by the contact the phone was reached at")
    await notifier.stop()
}

@Test func aDeclineEscalatesAtOnceAndSilenceAtTheAcceptTimeout() async throws {
    let harness = NotifierHarness(["variant": "notify", "accept-timeout": "30s"])
    let (notifier, context) = try await harness.start()
    try await notifier.receive(
        .value(port: "selections", wire: "n", selectionValue([("sip:bob@n", .smfNode), ("sip:dave@n", .smfNode), ("sip:carol@n", .sipPhone)])),
        context: context)
    try #require(await eventually { context.fakeSIP.states.count == 1 })
    let declined = await notifier.handle(
        request("NOTIFY", event: "m2m-alarm", from: "sip:bob@n", to: harness.info, contentType: "application/smf-alarm-answer+json",
                answer("A-1", .decline)), context: context)
    #expect(declined == .ok)
    try #require(await eventually { context.fakeSIP.states.map(\.resource).last?.hasSuffix("supporter=dave%40n") == true })
    await harness.clock.advance(by: .seconds(29))
    #expect(context.fakeSIP.messages.isEmpty)
    await harness.clock.advance(by: .seconds(1))
    try #require(await eventually { context.fakeSIP.messages.map(\.to) == ["sip:carol@127.0.0.1"] }, "dave was silent for 30 s")
    let steps = try #require(try harness.alarms.record(id: "A-1")).steps.map(\.kind)
    #expect(steps.contains(.escalated(supporter: "sip:bob@n", reason: .declined)))
    #expect(steps.contains(.escalated(supporter: "sip:dave@n", reason: .noAnswer)))
    await notifier.stop()
}

@Test func variant2SubscribesToEachSupporterAndReadsTheAnswerInTheirNotify() async throws {
    let harness = NotifierHarness(["variant": "subscribe"])
    let (notifier, context) = try await harness.start()
    try await notifier.receive(
        .value(port: "selections", wire: "ask", selectionValue([("sip:erin@n", .smfNode), ("sip:frank@n", .smfNode)])), context: context)
    try #require(await eventually { context.fakeSIP.subscriptions.count == 1 })
    let erin = context.fakeSIP.subscriptions[0]
    #expect(erin.to == "sip:erin@127.0.0.1" && erin.package == "m2m-alarm" && erin.contentType == "application/smf-alarm+json")
    #expect(try AlarmMessages.alarm(fromBody: erin.body).id == "A-1")
    erin.updates.yield(.notification(contentType: nil, body: []))
    erin.updates.yield(.notification(contentType: "application/smf-alarm-answer+json", body: AlarmMessages.answerBody(alarmID: "A-1", .decline)))
    try #require(await eventually { context.fakeSIP.subscriptions.count == 2 })
    let frank = context.fakeSIP.subscriptions[1]
    frank.updates.yield(.notification(contentType: "application/smf-alarm-answer+json", body: AlarmMessages.answerBody(alarmID: "A-1", .accept)))
    try #require(await eventually { (try? harness.alarms.record(id: "A-1"))?.acceptedBy == "sip:frank@n" })
    try #require(await eventually { context.fakeSIP.cancelled == 2 }, "both subscriptions end with the alarm")
    let steps = try #require(try harness.alarms.record(id: "A-1")).steps.map(\.kind)
    #expect(steps.contains(.delivered(attempt: 1)) && steps.contains(.declined(supporter: "sip:erin@n")))
    await notifier.stop()
}

@Test func aRefusedSubscriptionIsRetriedThenTheSupporterCountsAsUnreachable() async throws {
    let harness = NotifierHarness(["variant": "subscribe", "retry-interval": "2s", "accept-timeout": "600s"])
    let (notifier, context) = try await harness.start()
    try await notifier.receive(
        .value(port: "selections", wire: "ask", selectionValue([("sip:erin@n", .smfNode), ("sip:frank@n", .smfNode)])), context: context)
    for attempt in 1...4 {
        try #require(await eventually { context.fakeSIP.subscriptions.count == attempt })
        context.fakeSIP.subscriptions[attempt - 1].updates.yield(.terminated(reason: "480 Temporarily Unavailable"))
        await harness.clock.advance(by: .seconds(16))
    }
    try #require(await eventually { context.fakeSIP.subscriptions.last?.to == "sip:frank@127.0.0.1" })
    let steps = try #require(try harness.alarms.record(id: "A-1")).steps.map(\.kind)
    #expect(steps.contains(.deliveryFailed(attempt: 1, reason: "480 Temporarily Unavailable")))
    #expect(steps.contains(.escalated(supporter: "sip:erin@n", reason: .unreachable)))
    await notifier.stop()
}

@Test func aRedeliveredSelectionStartsNoSecondAlarm() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    let selection = selectionValue([("sip:bob@n", .smfNode)])
    try await notifier.receive(.value(port: "selections", wire: "n", selection), context: context)
    try await notifier.receive(.value(port: "selections", wire: "n", selection), context: context)
    try #require(await eventually { context.fakeSIP.states.count == 1 })
    await harness.clock.settle()
    #expect(context.fakeSIP.states.count == 1)
    #expect(try harness.alarms.recentAlarms(limit: 10).count == 1)
    #expect(try harness.alarms.record(id: "A-1")?.steps.filter { $0.kind == .raised }.count == 1)
    await notifier.stop()
}

@Test func anOpenAlarmResumesAfterARestartAndIsStillAccepted() async throws {
    let harness = NotifierHarness(["variant": "notify", "retry-interval": "5s"])
    let firstSIP = FakeSIP(clock: harness.clock)
    firstSIP.failSetState("node is shutting down")
    let (first, context) = try await harness.start(sip: firstSIP)
    try await first.receive(.value(port: "selections", wire: "n", selectionValue([("sip:bob@n", .smfNode)])), context: context)
    await harness.clock.settle()
    await first.stop()

    let (second, after) = try await harness.start()
    #expect(try harness.alarms.record(id: "A-1")?.state == .open)
    await harness.clock.advance(by: .seconds(6))
    try #require(await eventually { after.fakeSIP.states.count == 1 }, "retried after the backoff by the restarted node")
    #expect(await second.handle(
        request("MESSAGE", from: "sip:bob@n", to: harness.info, contentType: "application/smf-alarm-answer+json", answer("A-1", .accept)),
        context: after) == .ok)
    #expect(try harness.alarms.record(id: "A-1")?.state == .accepted)
    #expect(after.emitted(on: "deliveries").count == 1)
    await second.stop()
}

@Test func anAlarmWithNobodyToContactAlertsTheOwnersAndStartsWhenAListArrives() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    try await notifier.receive(.value(port: "selections", wire: "n", selectionValue([])), context: context)
    try #require(await eventually { context.notices.count == 1 })
    #expect(context.notices[0].hasPrefix("watch: alarm A-1 (fire in house-12)"), "\(context.notices)")
    try await notifier.receive(.value(port: "selections", wire: "n", selectionValue([("sip:bob@n", .smfNode)])), context: context)
    try #require(await eventually { context.fakeSIP.states.count == 1 })
    await notifier.stop()
}

@Test func aSelectionWhoseAlarmCannotBeStoredIsRefusedAndNobodyIsTold() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    harness.alarms.fail(true)
    await #expect(throws: (any Error).self) {
        try await notifier.receive(.value(port: "selections", wire: "n", selectionValue([("sip:bob@n", .smfNode)])), context: context)
    }
    await harness.clock.settle()
    #expect(context.fakeSIP.states.isEmpty)
    harness.alarms.fail(false)
    try await notifier.receive(.value(port: "selections", wire: "n", selectionValue([("sip:bob@n", .smfNode)])), context: context)
    try #require(await eventually { context.fakeSIP.states.count == 1 }, "delivered when it came again")

    harness.alarms.fail(true)
    let lost = await notifier.handle(
        request("MESSAGE", from: "sip:bob@n", to: harness.info, contentType: "application/smf-alarm-answer+json", answer("A-1", .accept)),
        context: context)
    #expect(lost.statusCode == 500, "an answer that cannot be stored is not acknowledged")
    harness.alarms.fail(false)
    #expect(try harness.alarms.record(id: "A-1")?.state == .open)
    await notifier.stop()
}

@Test func answersThatFitNoAlarmAreRefusedClearly() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    func send(_ method: String, _ type: String?, _ body: String, event: String? = nil) async -> ServiceDirectAnswer {
        await notifier.handle(request(method, event: event, from: "sip:bob@n", to: harness.info, contentType: type, body), context: context)
    }
    #expect(await send("MESSAGE", "text/plain", "ok").statusCode == 404)
    #expect(await send("MESSAGE", "application/smf-alarm-answer+json", answer("A-9", .accept)).statusCode == 404)
    #expect(await send("MESSAGE", "application/smf-alarm-answer+json", #"{"alarm": "A-9", "answer": "maybe"}"#).reason?.contains("\"accept\" or \"decline\"") == true)
    #expect(await send("NOTIFY", "application/smf-alarm-answer+json", answer("A-9", .accept), event: "presence").statusCode == 489)
    #expect(await send("PUBLISH", "text/plain", "ok").statusCode == 405)
    #expect(await send("MESSAGE", "image/png", "ok").statusCode == 415)
    await notifier.stop()
}

@Test func aSupportersNodeMayWatchOnlyItsOwnAlarmResourceAndAPhoneReplyMayComeFromOutside() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, _) = try await harness.start()
    let resource = SupporterNotifierFactory.alarmResource(instanceURI: harness.info.uri, supporter: "sip:bob@n")
    #expect(SupporterNotifierFactory.supporter(ofAlarmResource: resource) == "bob@n")
    #expect(SupporterNotifierFactory(alarms: harness.alarms, state: harness.state).resourcePackages == ["m2m-alarm"])
    let bob = request("SUBSCRIBE", event: "m2m-alarm", from: "sip:bob@n", to: harness.info, contentType: nil, "")
    #expect(await notifier.admitSubscription(bob, resource: resource) == nil)
    let mallory = request("SUBSCRIBE", event: "m2m-alarm", from: "sip:mallory@n", to: harness.info, contentType: nil, "")
    #expect(await notifier.admitSubscription(mallory, resource: resource)?.statusCode == 403)
    #expect(await notifier.admitSubscription(bob, resource: harness.info.uri)?.statusCode == 404, "a resource naming no supporter")
    let presence = request("SUBSCRIBE", event: "presence", from: "sip:bob@n", to: harness.info, contentType: nil, "")
    #expect(await notifier.admitSubscription(presence, resource: resource)?.statusCode == 489)
    // A plain phone's "ok A-1" may come from outside the sub-community (checked against who was told); nothing else.
    #expect(await notifier.admitsOutsider(request("MESSAGE", from: "sip:phone@p", to: harness.info, contentType: "text/plain", "ok A-1")))
    #expect(!(await notifier.admitsOutsider(request("MESSAGE", from: "sip:phone@p", to: harness.info, contentType: "application/smf-alarm-answer+json", "{}"))))
    #expect(!(await notifier.admitsOutsider(request("NOTIFY", event: "m2m-alarm", from: "sip:phone@p", to: harness.info, contentType: "text/plain", "ok"))))
}

@Test func theAlarmKeepsThePathOfTheSelectionThatRaisedIt() async throws {
    let harness = NotifierHarness(["variant": "notify"])
    let (notifier, context) = try await harness.start()
    var value = selectionValue([("sip:bob@n", .smfNode)])
    value.trace = [
        ServiceHop(service: "recorder", type: "sensor-recorder", node: "sip:h@n", action: .request, port: "PUBLISH m2m-sensor", atNanoseconds: 5),
        ServiceHop(service: "notifier", type: "supporter-notifier", node: "sip:w@n", action: .received, port: "selections", atNanoseconds: 9),
    ]
    try await notifier.receive(.value(port: "selections", wire: "notify", value), context: context)
    #expect(try harness.alarms.record(id: "A-1")?.trace == value.trace)
}
