import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

@Suite(.serialized) struct SIPEndpointSubscriptionTests {
    @Test func subscribeIsAnsweredWithActiveNotifyAndStateChangesAreNotified() async throws {
        let notifier = try await TestNode.start("alice")
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        try await notifier.endpoint.setState(package: "m2m-alarm", body: text("quiet"))

        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 600)
        let updates = Collector(handle.updates)
        let first = await updates.wait { $0.notifications.count >= 1 }.notifications.first
        #expect(first?.state.value == .active)
        #expect(first?.body?.text == "quiet")
        #expect((first?.state.expires ?? 0) > 590)

        try await notifier.endpoint.setState(package: "m2m-alarm", body: text("fire in hall"))
        let bodies = await updates.wait { $0.notifications.count >= 2 }.bodies
        #expect(bodies == ["quiet", "fire in hall"])

        let notifierView = await notifier.endpoint.subscriptions()
        #expect(notifierView.count == 1)
        #expect(notifierView.first?.role == .notifier)
        #expect(notifierView.first?.state == "active")
        #expect(notifierView.first?.lastNotifyCSeq == 2)
        #expect(notifierView.first?.peer == watcher.uri.description)
        let watcherView = await watcher.endpoint.subscriptions()
        #expect(watcherView.map(\.role) == [.subscriber])
        #expect(watcherView.first?.lastNotifyCSeq == 2)
        #expect(watcherView.first?.dialog?.callID == notifierView.first?.dialog?.callID)
    }

    @Test func refreshKeepsTheSubscriptionAliveOnTheSameDialog() async throws {
        let notifier = try await TestNode.start("alice")
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }

        // 2 s granted: the subscriber refreshes after half of it (intervals under twice the margin).
        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 2)
        let updates = Collector(handle.updates)
        let notifications = await updates.wait(timeout: .seconds(15)) { $0.notifications.count >= 4 }.notifications
        #expect(notifications.count >= 4)
        // Every refresh is answered by a NOTIFY on the same dialog, and the subscription never ends.
        #expect(Set(notifications.map(\.dialogID)).count == 1)
        #expect(notifications.allSatisfy { $0.state.value == .active })
        #expect(await notifier.endpoint.counts.notifierSubscriptions == 1)
    }

    @Test func fetchGetsTheStateOnceAndLeavesNothingBehind() async throws {
        let store = SIPInMemoryEndpointStore()
        let notifier = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        try await notifier.endpoint.setState(package: "m2m-alarm", body: text("armed"))

        let fetched = try await watcher.endpoint.fetch(from: notifier.uri, package: "m2m-alarm")
        #expect(fetched?.state.value == .terminated)
        #expect(fetched?.state.reason == .timeout)
        #expect(fetched?.body?.text == "armed")
        #expect(await notifier.endpoint.counts.notifierSubscriptions == 0)
        #expect(store.count(of: .notifierSubscription) == 0)
        // Nothing is left to refresh or retry: no second SUBSCRIBE, no timer.
        let counts = await watcher.endpoint.counts
        #expect(counts.subscribers == 0)
        #expect(counts.timers == 0)
    }

    @Test func unsubscribeEndsTheSubscriptionOnBothSidesAndInTheStore() async throws {
        let store = SIPInMemoryEndpointStore()
        let notifier = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }

        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 600)
        let updates = Collector(handle.updates)
        await updates.wait { $0.notifications.count >= 1 }
        #expect(store.count(of: .notifierSubscription) == 1)

        await watcher.endpoint.unsubscribe(handle)
        let all = await updates.wait { $0.contains { $0.termination != nil } }
        #expect(all.last?.termination == .unsubscribed)
        #expect(all.notifications.last?.state.value == .terminated)
        #expect(await eventually { await updates.isFinished })
        #expect(await notifier.endpoint.counts.notifierSubscriptions == 0)
        #expect(store.count(of: .notifierSubscription) == 0)
        #expect(await notifier.endpoint.subscriptions().isEmpty)
        #expect(await watcher.endpoint.subscriptions().isEmpty)
    }

    @Test func unknownPackageIsRefusedWith489() async throws {
        let notifier = try await TestNode.start("alice")
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }

        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "no-such-package")
        let updates = Collector(handle.updates)
        let all = await updates.wait { $0.contains { $0.termination != nil } }
        #expect(all.last?.termination == .refused(statusCode: 489))
        #expect(all.notifications.isEmpty)
    }

    @Test func intervalTooBriefIsRetriedWithMinExpires() async throws {
        let notifier = try await TestNode.start("alice", packages: [alarmPackage(minimumSeconds: 120)])
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }

        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 10)
        let updates = Collector(handle.updates)
        let first = await updates.wait { $0.notifications.count >= 1 }.notifications.first
        #expect(first?.state.value == .active)
        // The 423 carried Min-Expires: 120; the retry asked for (and got) that.
        #expect((first?.state.expires ?? 0) > 110)
        #expect((await notifier.endpoint.subscriptions().first?.expiresIn ?? 0) > 110)
    }

    @Test func notifyGoesBackOverTheSubscribersTCPConnection() async throws {
        let notifier = try await TestNode.start("alice")
        // The watcher listens on UDP only, and its Contact claims TCP on that port number, where nothing
        // listens: a NOTIFY can only arrive over the connection its SUBSCRIBE opened.
        let watcher = try await TestNode.start("bob", tcpPort: nil, contact: { SIPURI("sip:bob@127.0.0.1:\($0);transport=tcp")! })
        defer { Task { await notifier.stop(); await watcher.stop() } }

        let handle = try await watcher.endpoint.subscribe(to: notifier.tcpURI, package: "m2m-alarm", expires: 600)
        let updates = Collector(handle.updates)
        #expect(await updates.wait { $0.notifications.count >= 1 }.notifications.count == 1)
        try await notifier.endpoint.setState(package: "m2m-alarm", body: text("door open"))
        let bodies = await updates.wait { $0.notifications.count >= 2 }.bodies
        #expect(bodies.last == "door open")
        #expect(await notifier.endpoint.counts.flows == 1)
    }

    @Test func expiredSubscriptionIsRemovedFromMemoryAndStore() async throws {
        let store = SIPInMemoryEndpointStore()
        let notifier = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop() } }

        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 1)
        await Collector(handle.updates).wait { $0.notifications.count >= 1 }
        #expect(store.count(of: .notifierSubscription) == 1)
        // The watcher goes away without unsubscribing; nobody refreshes.
        await watcher.stop()
        #expect(await eventually { await notifier.endpoint.counts.notifierSubscriptions == 0 })
        #expect(store.count(of: .notifierSubscription) == 0)
        let counts = await notifier.endpoint.counts
        #expect(counts.dialogs == 0)
        #expect(counts.timers == 0)
    }

    @Test func manyRefreshCyclesKeepEveryCountConstant() async throws {
        let store = SIPInMemoryEndpointStore()
        let notifier = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("bob")
        defer { Task { await notifier.stop(); await watcher.stop() } }

        // 1 s granted: a refresh every half second.
        let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 1)
        let updates = Collector(handle.updates)
        await updates.wait { $0.notifications.count >= 2 }
        let early = await notifier.endpoint.counts
        await updates.wait(timeout: .seconds(20)) { $0.notifications.count >= 12 }
        let late = await notifier.endpoint.counts
        #expect(await updates.items.notifications.count >= 12)
        #expect(late.notifierSubscriptions == 1)
        #expect(late.dialogs == 1)
        #expect(late.timers <= max(early.timers, 1))
        #expect(store.count(of: .notifierSubscription) == 1)
        let watcherCounts = await watcher.endpoint.counts
        #expect(watcherCounts.subscribers == 1)
        #expect(watcherCounts.timers <= 2)  // refresh and expiry of the one dialog
    }
}
