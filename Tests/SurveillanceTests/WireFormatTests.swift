import Foundation
import Presence
import Rules
import Testing

@testable import Surveillance

@Test(arguments: [
    ("ok", AlarmDecision.accept, nil), ("OK A-1", .accept, "A-1"), ("a-1 yes!", .accept, "a-1"), ("1", .accept, nil),
    ("Accept", .accept, nil), ("no A-1", .decline, "A-1"), ("busy", .decline, nil), ("0", .decline, nil),
] as [(String, AlarmDecision, String?)])
func phoneReplyWordsAndReferenceAreRead(text: String, decision: AlarmDecision, reference: String?) throws {
    let reply = try #require(AlarmReply(text: text))
    #expect(reply.decision == decision)
    #expect(reply.reference == reference)
}

@Test func replyWithoutADecisionOrWithBothIsNotAnAnswer() {
    #expect(AlarmReply(text: "") == nil)
    #expect(AlarmReply(text: "who is this?") == nil)
    #expect(AlarmReply(text: "yes no") == nil)
}

@Test func replyIsMatchedToTheReferencedAlarmOrTheLatestOneTheSupporterWasToldAbout() throws {
    var first = try AlarmDelivery(alarm: fireAlarm, recipients: [carol], policy: AlarmDeliveryPolicy())
    _ = first.start(at: .seconds(100))
    var second = try AlarmDelivery(
        alarm: Alarm(id: "A-2", kind: "intrusion", building: "house-14", raisedAt: .seconds(200)), recipients: [carol],
        policy: AlarmDeliveryPolicy())
    _ = second.start(at: .seconds(200))
    let notCarols = try AlarmDelivery(alarm: Alarm(id: "A-3", kind: "fire", building: "x", raisedAt: .zero), recipients: [], policy: AlarmDeliveryPolicy())
    let open = [first, second, notCarols]

    #expect(try #require(AlarmReply(text: "ok a-1")).alarm(from: carol.supporter, among: open)?.alarm.id == "A-1")
    #expect(try #require(AlarmReply(text: "ok")).alarm(from: carol.supporter, among: open)?.alarm.id == "A-2")
    #expect(try #require(AlarmReply(text: "ok A-3")).alarm(from: carol.supporter, among: open) == nil, "carol was not told about A-3")
    #expect(try #require(AlarmReply(text: "ok")).alarm(from: bob.supporter, among: open) == nil)
}

@Test func phoneMessageTextTellsWhatWhereAndHowToAnswer() {
    var alarm = fireAlarm
    alarm.buildingLocation = PresenceGeodeticPosition(latitude: 52.52, longitude: 13.405)
    alarm.summary = "2 smoke detectors"
    #expect(
        AlarmMessages.text(for: alarm)
            == "ALARM A-1: fire in house-12 (critical) at 52.52000,13.40500, 2 smoke detectors. Reply \"ok A-1\" to accept or \"no A-1\" to decline.")
    #expect(AlarmReply(text: "ok A-1")?.reference == alarm.id)
}

@Test func alarmAndAnswerBodiesRoundTripAndBadOnesAreRefused() throws {
    var alarm = fireAlarm
    alarm.buildingLocation = PresenceGeodeticPosition(latitude: 52.52, longitude: 13.405)
    #expect(try AlarmMessages.alarm(fromBody: AlarmMessages.body(for: alarm)) == alarm)
    #expect(throws: SurveillanceError.self) { try AlarmMessages.alarm(fromBody: Array("{\"id\":\"A 1\"}".utf8)) }

    let answer = try AlarmMessages.answer(fromBody: AlarmMessages.answerBody(alarmID: "A-1", .decline))
    #expect(answer.alarmID == "A-1" && answer.decision == .decline)
    #expect(throws: SurveillanceError(.invalidAnswerBody, "\"answer\" must be \"accept\" or \"decline\", not \"maybe\"")) {
        try AlarmMessages.answer(fromBody: Array(#"{"alarm":"A-1","answer":"maybe"}"#.utf8))
    }
    #expect(throws: SurveillanceError(.invalidAnswerBody, "the alarm answer is not valid JSON")) {
        try AlarmMessages.answer(fromBody: Array("{alarm".utf8))
    }
}

@Test func sensorBodyIsParsedIntoAReading() throws {
    let body = try SensorReadingBody(
        parsing: Array(#"{"id":"smoke-kitchen","building":"house-12","kind":"smoke","value":0.7,"time":"2026-11-23T08:00:00Z","extra":[1]}"#.utf8))
    #expect(body == SensorReadingBody(sensorID: "smoke-kitchen", building: "house-12", kind: "smoke", value: 0.7, time: .seconds(1_795_420_800)))
    #expect(body.reading(receivedAt: .zero).time == .seconds(1_795_420_800))

    let door = try SensorReadingBody(parsing: Array(#"{"id":"door-1","building":"h","kind":"door","value":true,"time":1795420800.25}"#.utf8))
    #expect(door.value == 1)
    #expect(door.time == .milliseconds(1_795_420_800_250))
    let untimed = try SensorReadingBody(parsing: Array(#"{"id":"t","building":"h","kind":"temperature","value":-3}"#.utf8))
    #expect(untimed.reading(receivedAt: .seconds(42)) == RuleReading(sensorID: "t", building: "h", kind: "temperature", value: -3, time: .seconds(42)))

    #expect(try SensorReadingBody(parsing: body.encoded()) == body, "what we write we read back")
}

@Test(arguments: [
    ("", "the sensor body is empty"),
    ("[1]", "the sensor body must be a JSON object, not an array"),
    ("{\"id\":", "the sensor body is not valid JSON"),
    (#"{"building":"h","kind":"smoke","value":1}"#, "\"id\" is missing"),
    (#"{"id":7,"building":"h","kind":"smoke","value":1}"#, "\"id\" must be a string, not a number"),
    (#"{"id":"","building":"h","kind":"smoke","value":1}"#, "\"id\" is empty"),
    (#"{"id":"s","building":"h","kind":"smoke","value":"hot"}"#, "\"value\" must be a finite number, not a string"),
    (#"{"id":"s","building":"h","kind":"smoke","value":null}"#, "\"value\" must be a finite number, not null"),
    (#"{"id":"s","building":"h","kind":"smoke","value":1,"time":"yesterday"}"#, "\"time\" \"yesterday\" is not a date-time such as 2026-11-23T08:00:00Z"),
    (#"{"id":"s","building":"h","kind":"smoke","value":1,"time":1e300}"#, "\"time\" 1e+300 is not a plausible number of seconds since 1970"),
    (#"{"id":"s","building":"h","kind":"smoke","value":1,"time":{}}"#, "\"time\" must be a date-time string or a number, not an object"),
])
func badSensorBodyIsRefusedWithAClearError(body: String, message: String) {
    #expect(throws: SurveillanceError(.invalidSensorBody, message)) { try SensorReadingBody(parsing: Array(body.utf8)) }
}

@Test func oversizedSensorBodyIsRefused() {
    let padding = String(repeating: "x", count: 5000)
    #expect(throws: SurveillanceError(.invalidSensorBody, "the sensor body is 5053 bytes, more than the 4096 allowed")) {
        try SensorReadingBody(parsing: Array(#"{"id":"s","building":"h","kind":"k","value":1,"p":"\#(padding)"}"#.utf8))
    }
}
