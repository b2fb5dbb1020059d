import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

@Suite(.serialized) struct SIPEndpointRestartTests {
    @Test func restartedNotifierKeepsNotifyingWithHigherCSeq() async throws {
        let store = SIPInMemoryEndpointStore()
        let first = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        let handle = try await watcher.endpoint.subscribe(to: first.uri, package: "m2m-alarm", expires: 600)
        let updates = Collector(handle.updates)
        await updates.wait { $0.notifications.count >= 1 }
        try await first.endpoint.setState(package: "m2m-alarm", body: text("one"))
        await updates.wait { $0.notifications.count >= 2 }
        let before = await watcher.endpoint.subscriptions().first?.lastNotifyCSeq
        #expect(before == 2)

        await first.stop()
        let second = try await TestNode.start("alice", udpPort: first.udpPort, tcpPort: first.tcpPort, store: store)
        defer { Task { await second.stop(); await watcher.stop() } }
        #expect(await second.endpoint.counts.notifierSubscriptions == 1)
        try await second.endpoint.setState(package: "m2m-alarm", body: text("two"))
        let notifications = await updates.wait { $0.notifications.count >= 3 }.notifications
        #expect(notifications.map { $0.body?.text } == [nil, "one", "two"])
        #expect(Set(notifications.map(\.dialogID)).count == 1)
        #expect(await watcher.endpoint.subscriptions().first?.lastNotifyCSeq == 3)
        #expect(await second.endpoint.subscriptions().first?.lastNotifyCSeq == 3)
    }

    @Test func subscriberStartsOverAfter481FromANotifierThatLostItsState() async throws {
        let first = try await TestNode.start("alice")
        let watcher = try await TestNode.start("bob")
        let handle = try await watcher.endpoint.subscribe(to: first.uri, package: "m2m-alarm", expires: 2)
        let updates = Collector(handle.updates)
        let initial = await updates.wait { $0.notifications.count >= 1 }.notifications.first

        await first.stop()
        // Same address, empty store: the refresh SUBSCRIBE gets 481 and the subscriber subscribes anew.
        let second = try await TestNode.start("alice", udpPort: first.udpPort, tcpPort: first.tcpPort)
        defer { Task { await second.stop(); await watcher.stop() } }
        let recovered = await updates.wait(timeout: .seconds(15)) { items in
            items.notifications.contains { $0.dialogID.callID != initial?.dialogID.callID && $0.state.value == .active }
        }
        #expect(recovered.notifications.contains { $0.dialogID.callID != initial?.dialogID.callID })
        #expect(recovered.allSatisfy { $0.termination == nil })
        #expect(await second.endpoint.counts.notifierSubscriptions == 1)
    }

    @Test func restoreDropsSubscriptionsThatExpiredWhileDown() async throws {
        let store = SIPInMemoryEndpointStore()
        let first = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        let handle = try await watcher.endpoint.subscribe(to: first.uri, package: "m2m-alarm", expires: 1)
        await Collector(handle.updates).wait { $0.notifications.count >= 1 }
        await watcher.stop()
        await first.stop()
        #expect(store.count(of: .notifierSubscription) == 1)

        try await Task.sleep(for: .milliseconds(1200))  // let the saved subscription run out
        let second = try await TestNode.start("alice", udpPort: first.udpPort, tcpPort: first.tcpPort, store: store)
        defer { Task { await second.stop() } }
        #expect(await second.endpoint.counts.notifierSubscriptions == 0)
        #expect(store.count(of: .notifierSubscription) == 0)
    }
}
