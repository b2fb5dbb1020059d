import Foundation
import Logging
import Testing

@testable import Storage

private let logger = Logger(label: "smf.storage.messages.test")

@Test func savedMessagesAreListedOldestFirstWithTheirBytes() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    let first = try await database.saveMessage(
        receivedAt: 1_700_000_000.5, from: "sip:bob@127.0.0.1:5070", to: "sip:alice@127.0.0.1:5060", contentType: "text/plain",
        body: Array("pump 7 alarm".utf8))
    let second = try await database.saveMessage(
        receivedAt: 1_700_000_001, from: "sip:carol@127.0.0.1", to: "sip:alice@127.0.0.1", contentType: "application/json",
        body: [0x7B, 0xFF, 0x7D])
    #expect(second.id > first.id)
    let all = try await database.messages()
    #expect(all == [first, second])
    #expect(all[0].text == "pump 7 alarm")
    #expect(all[1].body == [0x7B, 0xFF, 0x7D], "bytes that are not UTF-8 are kept as they came")
    #expect(try await database.messages(afterID: first.id) == [second])
    #expect(try await database.messages(afterID: second.id).isEmpty)
}

@Test func listingWithALimitKeepsTheNewestMessages() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    for index in 1...5 {
        _ = try await database.saveMessage(
            receivedAt: Double(index), from: "sip:bob@h", to: "sip:alice@h", contentType: "text/plain", body: Array("m\(index)".utf8))
    }
    let newest = try await database.messages(limit: 2)
    #expect(newest.map(\.text) == ["m4", "m5"])
}

@Test func messageWithoutContentTypeIsRefusedByTheSchema() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    await #expect(throws: StorageError.self) {
        _ = try await database.saveMessage(receivedAt: 1, from: "sip:bob@h", to: "sip:alice@h", contentType: "", body: [])
    }
    #expect(try await database.messages().isEmpty)
}
