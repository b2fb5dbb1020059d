import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

/// Wraps the in-memory store, counting what each write carries; can be told to fail.
final class CountingEndpointStore: SIPEndpointStore, @unchecked Sendable {
    struct Failure: Error {}

    // Guarded by `lock`.
    private var writes: [SIPEndpointStoreChanges] = []
    private var failing = false
    private let lock = NSLock()
    let inner = SIPInMemoryEndpointStore()

    func loadRecords() throws -> [SIPEndpointStoreRecord] { try inner.loadRecords() }

    func apply(_ changes: SIPEndpointStoreChanges) throws {
        let fail = lock.withLock {
            writes.append(changes)
            return failing
        }
        if fail { throw Failure() }
        try inner.apply(changes)
    }

    var recorded: [SIPEndpointStoreChanges] { lock.withLock { writes } }
    func reset() { lock.withLock { writes = [] } }
    func fail(_ on: Bool) { lock.withLock { failing = on } }
}

@Suite(.serialized) struct SIPEndpointStoreWriteTests {
    @Test func eachNewSubscriptionWritesOneRecordHoweverManyExist() async throws {
        let store = CountingEndpointStore()
        let notifier = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }

        var collectors: [Collector<SIPSubscriptionUpdate>] = []
        for round in 0..<3 {
            store.reset()
            for _ in 0..<10 {
                let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 600)
                collectors.append(Collector(handle.updates))
            }
            for collector in collectors { await collector.wait { $0.notifications.count >= 1 } }
            #expect(await notifier.endpoint.counts.notifierSubscriptions == 10 * (round + 1))
            // One record per SUBSCRIBE, none for the NOTIFY 200s, whether 0 or 20 already exist.
            let writes = store.recorded.filter { !$0.isEmpty }
            #expect(writes.count == 10)
            #expect(writes.allSatisfy { $0.saved.count == 1 && $0.deleted.isEmpty })
            #expect(writes.allSatisfy { $0.saved.first?.key.kind == .notifierSubscription })
        }
        #expect(store.inner.count(of: .notifierSubscription) == 30)

        // A state change writes the state and the subscriptions whose NOTIFY CSeq moved.
        store.reset()
        try await notifier.endpoint.setState(package: "m2m-alarm", body: text("fire"))
        let write = try #require(store.recorded.first)
        #expect(store.recorded.count == 1)
        #expect(write.saved.filter { $0.key.kind == .resourceState }.count == 1)
        #expect(write.saved.filter { $0.key.kind == .notifierSubscription }.count == 30)
    }

    @Test func failedWriteUndoesTheEventSoNoNotifyCSeqIsSkipped() async throws {
        let store = CountingEndpointStore()
        let notifier = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 600)
        let updates = Collector(handle.updates)
        await updates.wait { $0.notifications.count >= 1 }

        store.fail(true)
        await #expect(throws: SIPEndpointError.self) {
            try await notifier.endpoint.setState(package: "m2m-alarm", body: text("lost"))
        }
        #expect(await notifier.endpoint.subscriptions().first?.lastNotifyCSeq == 1)
        store.fail(false)

        try await notifier.endpoint.setState(package: "m2m-alarm", body: text("kept"))
        let notifications = await updates.wait { $0.notifications.count >= 2 }.notifications
        #expect(notifications.map { $0.body?.text } == [nil, "kept"])
        #expect(await watcher.endpoint.subscriptions().first?.lastNotifyCSeq == 2)
        #expect(store.inner.count(of: .resourceState) == 1)
        // A subscriber arriving now gets the committed state, not the undone one.
        let late = Collector(try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 600).updates)
        #expect(await late.wait { $0.notifications.count >= 1 }.bodies == ["kept"])
    }
}
