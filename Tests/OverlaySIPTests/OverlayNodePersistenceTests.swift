import Foundation
import Overlay
import OverlaySIP
import Testing

/// Collects the store snapshots an ``OverlayNode`` reports.
final class SnapshotLog: @unchecked Sendable {
    // Guarded by `lock`.
    private var snapshots: [[ResourceRecord]] = []
    private let lock = NSLock()

    func append(_ records: [ResourceRecord]) { lock.withLock { snapshots.append(records) } }
    var all: [[ResourceRecord]] { lock.withLock { snapshots } }
}

@Suite(.serialized) struct OverlayNodePersistenceTests {
    @Test func storeChangesAreReportedAsOneSnapshotOfEveryHeldRecord() async throws {
        let harness = try await Harness.make()
        try await harness.node.join(bootstrap: [])
        let log = SnapshotLog()
        await harness.node.observeStore { log.append($0) }
        let identity = harness.node.identity
        let expiry = Harness.epoch.advanced(by: .seconds(3600))
        for index in 0..<3 {
            try await harness.node.put(.signed(kind: .generic, name: "meter\(index)", value: Array("v\(index)".utf8), sequence: 1, expiry: expiry, by: identity))
        }
        #expect(await eventually(within: .seconds(5)) { log.all.last?.count == 3 })
        // The three puts fall within one 200 ms window: far fewer snapshots than changes.
        #expect(log.all.count < 3)
        #expect(Set(log.all.last?.map(\.name) ?? []) == ["meter0", "meter1", "meter2"])
        #expect(await harness.node.heldRecords().count == 3)
        await harness.shutdown()
    }

    @Test func restoredRecordsAreServedAndForgedOrExpiredOnesAreDropped() async throws {
        let harness = try await Harness.make()
        try await harness.node.join(bootstrap: [])
        let owner = NodeIdentity.generate()
        let expiry = Harness.epoch.advanced(by: .seconds(3600))
        let good = ResourceRecord.signed(kind: .generic, name: "kept", value: Array("42".utf8), sequence: 7, expiry: expiry, by: owner)
        let expired = ResourceRecord.signed(
            kind: .generic, name: "old", value: [1], sequence: 1, expiry: Harness.epoch.advanced(by: .seconds(-1)), by: owner)
        let genuine = ResourceRecord.signed(kind: .generic, name: "forged", value: Array("a".utf8), sequence: 1, expiry: expiry, by: owner)
        let forged = ResourceRecord(
            kind: .generic, name: "forged", value: Array("b".utf8), ownerPublicKey: genuine.ownerPublicKey, sequence: 1, expiry: expiry,
            isRemoval: false, signature: genuine.signature)
        let restored = await harness.node.restore([good, expired, forged])
        #expect(restored == 1)
        let found = try await harness.node.get("kept")
        #expect(found.map(\.value) == [Array("42".utf8)])
        #expect(try await harness.node.get("old").isEmpty)
        #expect(try await harness.node.get("forged").isEmpty)
        await harness.shutdown()
    }

    @Test func joiningIsAbandonedWhenTheCallerIsCancelled() async throws {
        let harness = try await Harness.make()
        let silent = try await Harness.make()
        await silent.node.stop()  // answers 503 to everything: the join never completes
        let node = harness.node
        let task = Task { try await node.join(bootstrap: [silent.address], attemptTimeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let started = ContinuousClock.now
        let outcome = await task.result
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(throws: OverlaySIPError.self) { try outcome.get() }
        await harness.shutdown()
        await silent.shutdown()
    }
}
