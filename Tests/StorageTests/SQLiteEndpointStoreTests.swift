import Foundation
import GRDB
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import Storage

// The SQLite side of SIPEndpoint's persistence: the store on its own, and two real endpoints over
// 127.0.0.1 whose notifier restarts on the same database file and port.

private struct TemporaryDataDirectory: ~Copyable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "smf-endpoint-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private let logger: Logger = {
    var logger = Logger(label: "smf.storage.endpoint.test")
    logger.logLevel = .critical
    return logger
}()

private func record(_ kind: SIPEndpointRecordKind, _ id: String, expiresAt: Double? = 100, cseq: UInt32? = nil) -> SIPEndpointStoreRecord {
    SIPEndpointStoreRecord(
        key: .init(kind: kind, id: id), package: "m2m-alarm", resource: "sip:alice@127.0.0.1", peer: kind == .notifierSubscription ? "sip:bob@127.0.0.1" : "",
        expiresAt: kind == .resourceState ? nil : expiresAt, notifyCSeq: cseq, data: Array("{\"id\":\"\(id)\"}".utf8))
}

@Test func endpointStoreSavesReplacesAndDeletesRecordsDurably() throws {
    let directory = try TemporaryDataDirectory()
    let store = try SMFDatabase(directory: directory.path, logger: logger).endpointStore
    try store.apply(
        SIPEndpointStoreChanges(saved: [
            record(.notifierSubscription, "s1", cseq: 1), record(.publication, "etag1"), record(.resourceState, "m2m-alarm sip:alice@127.0.0.1"),
        ]))
    try store.apply(SIPEndpointStoreChanges(saved: [record(.notifierSubscription, "s1", expiresAt: 200, cseq: 4_294_967_295)]))

    // A second connection to the same file sees what was committed.
    let reopened = try SMFDatabase(directory: directory.path, logger: logger).endpointStore
    let loaded = try reopened.loadRecords()
    #expect(loaded.count == 3)
    let subscription = loaded.first { $0.key.kind == .notifierSubscription }
    #expect(subscription?.notifyCSeq == 4_294_967_295)
    #expect(subscription?.expiresAt == 200)
    #expect(subscription?.peer == "sip:bob@127.0.0.1")
    #expect(subscription?.data == Array("{\"id\":\"s1\"}".utf8))
    #expect(loaded.first { $0.key.kind == .resourceState }?.expiresAt == nil)

    try reopened.apply(
        SIPEndpointStoreChanges(deleted: [.init(kind: .notifierSubscription, id: "s1"), .init(kind: .publication, id: "etag1")]))
    #expect(try store.rowCounts() == [.notifierSubscription: 0, .publication: 0, .resourceState: 1])
}

@Test func endpointStoreWritesAllOrNothing() throws {
    let store = try SMFDatabase.inMemory(logger: logger).endpointStore
    // The empty id violates the table's CHECK: the valid record in the same change is not kept either.
    let changes = SIPEndpointStoreChanges(saved: [record(.publication, "good"), record(.publication, "")])
    #expect(throws: StorageError.self) { try store.apply(changes) }
    #expect(try store.loadRecords().isEmpty)
}

/// A node on 127.0.0.1 for the restart tests.
private struct Node {
    let transport: SIPTransport
    let endpoint: SIPEndpoint
    let port: Int
    var uri: SIPURI { SIPURI("sip:\(endpoint.configuration.localURI.user ?? "")@127.0.0.1:\(port)")! }

    static func start(_ user: String, port: Int = 0, store: any SIPEndpointStore) async throws -> Node {
        var configuration = SIPTransportConfiguration()
        configuration.listeners = [SIPListenAddress(transport: .udp, host: "127.0.0.1", port: port)]
        let core = SIPUserAgentCore()
        let transport = SIPTransport(configuration: configuration, handler: core, logger: logger)
        let bound = try await transport.bind().first?.port ?? 0
        let endpoint = SIPEndpoint(
            configuration: SIPEndpointConfiguration(localURI: SIPURI("sip:\(user)@127.0.0.1:\(bound)")!), transport: transport,
            userAgent: core, store: store,
            packages: [SIPBasicEventPackage(name: "m2m-alarm", expiresPolicy: SIPExpiresPolicy(defaultSeconds: 60, minimumSeconds: 1))],
            logger: logger)
        try await endpoint.start()
        return Node(transport: transport, endpoint: endpoint, port: bound)
    }

    func stop() async {
        await endpoint.shutdown()
        await transport.close()
    }
}

/// Waits until `stream` has produced `count` notifications (or 10 s passed) and returns their bodies.
private func notifications(
    _ iterator: inout AsyncStream<SIPSubscriptionUpdate>.Iterator, count: Int
) async -> [SIPSubscriberNotification] {
    var received: [SIPSubscriberNotification] = []
    while received.count < count, let update = await iterator.next() {
        if case .notification(let notification) = update { received.append(notification) }
    }
    return received
}

@Test(.timeLimit(.minutes(1))) func notifierRestartedOnTheSameDatabaseFileContinuesWithHigherCSeq() async throws {
    let directory = try TemporaryDataDirectory()
    let first = try await Node.start("alice", store: try SMFDatabase(directory: directory.path, logger: logger).endpointStore)
    let watcher = try await Node.start("bob", store: SIPInMemoryEndpointStore())
    let handle = try await watcher.endpoint.subscribe(to: first.uri, package: "m2m-alarm", expires: 600)
    var updates = handle.updates.makeAsyncIterator()
    _ = await notifications(&updates, count: 1)
    try await first.endpoint.setState(package: "m2m-alarm", body: SIPEventBody(contentType: "text/plain", text: "before"))
    _ = await notifications(&updates, count: 1)
    await first.stop()

    // A new process: the database is opened afresh from the file.
    let database = try SMFDatabase(directory: directory.path, logger: logger)
    #expect(try database.endpointStore.rowCounts()[.notifierSubscription] == 1)
    let second = try await Node.start("alice", port: first.port, store: database.endpointStore)
    try await second.endpoint.setState(package: "m2m-alarm", body: SIPEventBody(contentType: "text/plain", text: "after"))
    let after = await notifications(&updates, count: 1)
    #expect(after.first?.body?.text == "after")
    #expect(await watcher.endpoint.subscriptions().first?.lastNotifyCSeq == 3)
    #expect(try database.endpointStore.loadRecords().first { $0.key.kind == .notifierSubscription }?.notifyCSeq == 3)

    // Unsubscribing removes the row.
    await watcher.endpoint.unsubscribe(handle)
    while let update = await updates.next() { if case .terminated = update { break } }
    #expect(try database.endpointStore.rowCounts()[.notifierSubscription] == 0)
    await second.stop()
    await watcher.stop()
}
