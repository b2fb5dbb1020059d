import Foundation
import Logging
import Testing

@testable import Storage

// What a supporter's node keeps (issue 7): its registrations and the alarms it was told about, with their answers.

private let logger: Logger = {
    var logger = Logger(label: "smf.storage.supporter.test")
    logger.logLevel = .critical
    return logger
}()

@Test func alarmsAreKeptInArrivalOrderOnceEachWithTheAnswerGiven() throws {
    let store = SQLiteSupporterStore(database: try SMFDatabase.inMemory(logger: logger))
    let first = try store.addAlarm(
        SupporterAlarmRow(id: "A-1", notifier: "sip:app.notifier@127.0.0.1:5070", channel: "NOTIFY", receivedAt: 10, alarm: Array("{}".utf8)))
    let second = try store.addAlarm(
        SupporterAlarmRow(id: "A-2", notifier: "sip:app.notifier@127.0.0.1:5070", channel: "SUBSCRIBE", receivedAt: 20, alarm: Array("{}".utf8), callID: "c1"))
    #expect([first.sequence, second.sequence] == [1, 2])
    // The same alarm again (a NOTIFY after a re-subscribe) is not a second alarm; a new Call-ID is remembered.
    let again = try store.addAlarm(
        SupporterAlarmRow(id: "A-2", notifier: "sip:other@127.0.0.1:1", channel: "SUBSCRIBE", receivedAt: 30, alarm: [], callID: "c2"))
    #expect(again.sequence == 2 && again.receivedAt == 20 && again.notifier == "sip:app.notifier@127.0.0.1:5070")
    #expect(again.callID == "c2")
    try store.setAnswer("A-1", answer: "decline", at: 15, result: "delivered 200")
    #expect(try store.alarm(id: "a-1")?.answer == "decline", "ids are matched without case, as a phone user types them")
    #expect(try store.alarms().map(\.id) == ["A-1", "A-2"])
    #expect(try store.alarms(after: 1).map(\.id) == ["A-2"])
    #expect(try store.alarms().first?.answerResult == "delivered 200")
    #expect(throws: StorageError.self) { try store.setAnswer("A-404", answer: "accept", at: 1, result: nil) }
}

@Test func aRegistrationIsReplacedPerApplicationAndRemoved() throws {
    let store = SQLiteSupporterStore(database: try SMFDatabase.inMemory(logger: logger))
    try store.saveApplication(
        SupporterApplicationRow(application: "app", registry: "sip:app.registry@h:1", notifier: nil, registration: [1], registeredAt: 1))
    try store.saveApplication(
        SupporterApplicationRow(application: "app", registry: "sip:app.registry@h:2", notifier: "sip:app.notifier@h:3", registration: [2], registeredAt: 2))
    #expect(try store.applications().map(\.registry) == ["sip:app.registry@h:2"])
    #expect(try store.applications().first?.notifier == "sip:app.notifier@h:3")
    #expect(try store.removeApplication("app"))
    #expect(!(try store.removeApplication("app")))
    #expect(try store.applications().isEmpty)
}
