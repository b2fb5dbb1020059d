import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

/// The endpoint as a service runtime uses it: bodies streamed on one subscription with their outcome, the owner of
/// a package told of its subscriptions and deciding new ones, and a subscriber that chooses each NOTIFY's answer.
@Suite(.serialized) struct SIPEndpointStreamTests {
    /// Answers NOTIFYs as told: accept, or refuse with a status and Retry-After.
    final class Answers: Sendable {
        private let state = Locked<(received: [String], refusal: SIPRequestRefusal?)>(([], nil))

        func refuse(with refusal: SIPRequestRefusal?) { state.withLock { $0.refusal = refusal } }
        var received: [String] { state.withLock { $0.received } }

        var handler: SIPNotificationHandler {
            { notification, _ in
                self.state.withLock { state in
                    if state.refusal == nil, let body = notification.body { state.received.append(body.text) }
                    return state.refusal
                }
            }
        }
    }

    /// A notifier and a watcher subscribed to it with `answers`; returns the notifier's subscription key.
    func wired(_ notifier: TestNode, _ watcher: TestNode, answers: Answers, id: String = "w1") async throws -> (SIPSubscriptionKey, SIPSubscriptionHandle) {
        let changes = Collector(await notifier.endpoint.observeSubscriptions(of: "m2m-alarm"))
        let handle = try await watcher.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: id), expires: 600, handler: answers.handler)
        let created = await changes.wait { $0.contains { if case .created = $0.kind { true } else { false } } }
        let key = try #require(created.first?.key)
        // The first NOTIFY (no state yet) is answered before anything is streamed.
        #expect(await eventually { await notifier.endpoint.subscriptions().first?.lastNotifyCSeq == 1 })
        return (key, handle)
    }

    @Test func aStreamedBodyIsDeliveredOnlyToItsSubscriptionAndReportedDelivered() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let answers = Answers()
        let (key, _) = try await wired(notifier, watcher, answers: answers)

        #expect(await notifier.endpoint.notify(key, body: text("v1")) == .delivered(statusCode: 200))
        #expect(await notifier.endpoint.notify(key, body: text("v2")) == .delivered(statusCode: 200))
        #expect(answers.received == ["v1", "v2"])
        // The NOTIFY CSeq went on in the dialog: 1 was the first NOTIFY, then 2 and 3.
        #expect(await notifier.endpoint.subscriptions().first?.lastNotifyCSeq == 3)
    }

    @Test func aStreamOfBodiesWritesItsSubscriptionOncePerHundredNotifiesAndARestartGoesOnAboveThem() async throws {
        let store = CountingEndpointStore()
        let notifier = try await TestNode.start("producer", store: store)
        let watcher = try await TestNode.start("consumer")
        let answers = Answers()
        let (key, _) = try await wired(notifier, watcher, answers: answers)

        store.reset()
        for index in 1...150 {
            #expect(await notifier.endpoint.notify(key, body: text("v\(index)")) == .delivered(statusCode: 200))
        }
        #expect(answers.received == (1...150).map { "v\($0)" })
        #expect(await notifier.endpoint.subscriptions().first?.lastNotifyCSeq == 151)
        // CSeq 2 wrote a reservation through 101, CSeq 102 one through 201: two writes for 150 NOTIFYs.
        let writes = store.recorded.filter { !$0.isEmpty }
        #expect(writes.count == 2)
        #expect(writes.allSatisfy { $0.saved.map(\.key.kind) == [.notifierSubscription] && $0.deleted.isEmpty })
        let stored = try #require(try store.inner.loadRecords().first { $0.key.kind == .notifierSubscription })
        #expect(stored.notifyCSeq == 201)

        // Restarted on the same store, the notifier goes on above the reservation, and the consumer takes it.
        await notifier.stop()
        let second = try await TestNode.start("producer", udpPort: notifier.udpPort, tcpPort: notifier.tcpPort, store: store)
        defer { Task { await second.stop(); await watcher.stop() } }
        #expect(await second.endpoint.notify(key, body: text("after the restart")) == .delivered(statusCode: 200))
        #expect(answers.received.last == "after the restart")
        #expect(await second.endpoint.subscriptions().first?.lastNotifyCSeq == 202)
    }

    @Test func aRefusalWithRetryAfterKeepsTheSubscriptionAndTheSameBodyGoesThroughLater() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let answers = Answers()
        let (key, _) = try await wired(notifier, watcher, answers: answers)

        answers.refuse(with: SIPRequestRefusal(statusCode: 500, reason: "Not Yet Committed", retryAfter: 2))
        #expect(await notifier.endpoint.notify(key, body: text("v1")) == .refused(statusCode: 500, retryAfter: 2))
        #expect(await notifier.endpoint.counts.notifierSubscriptions == 1)
        #expect(answers.received.isEmpty)

        answers.refuse(with: nil)
        #expect(await notifier.endpoint.notify(key, body: text("v1")) == .delivered(statusCode: 200))
        #expect(answers.received == ["v1"])
    }

    @Test func aRefusalWithoutRetryAfterRemovesTheSubscriptionAndTheOwnerIsTold() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let answers = Answers()
        let changes = Collector(await notifier.endpoint.observeSubscriptions(of: "m2m-alarm"))
        let handle = try await watcher.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: "w1"), expires: 600, retryDelay: .seconds(60),
            handler: answers.handler)
        let key = try #require(await changes.wait { !$0.isEmpty }.first?.key)
        #expect(await eventually { await notifier.endpoint.subscriptions().first?.lastNotifyCSeq == 1 })

        answers.refuse(with: SIPRequestRefusal(statusCode: 403, reason: "Not A Member"))
        #expect(await notifier.endpoint.notify(key, body: text("v1")) == .refused(statusCode: 403, retryAfter: nil))
        let all = await changes.wait { $0.contains { if case .removed = $0.kind { true } else { false } } }
        #expect(all.map(\.kind) == [.created(.active), .removed(.notifyFailed(statusCode: 403))])
        #expect(await notifier.endpoint.notify(key, body: text("v2")) == .gone)
        await watcher.endpoint.unsubscribe(handle)
    }

    @Test func aSubscriberThatRefusedANotifyWithoutRetryAfterSubscribesAgainAfterItsRetryDelay() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let answers = Answers()
        let changes = Collector(await notifier.endpoint.observeSubscriptions(of: "m2m-alarm"))
        // The very first NOTIFY is refused (a member whose proof is not yet known, say): the notifier removes the
        // subscription (RFC 6665 §4.2.2), so the subscriber must not wait for its refresh to find out.
        answers.refuse(with: SIPRequestRefusal(statusCode: 403, reason: "Membership Proof Required"))
        let handle = try await watcher.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: "w1"), expires: 600, retryDelay: .milliseconds(300),
            handler: answers.handler)
        _ = await changes.wait { $0.contains { $0.kind == .removed(.notifyFailed(statusCode: 403)) } }
        answers.refuse(with: nil)

        let again = await changes.wait(timeout: .seconds(5)) { $0.filter { $0.kind == .created(.active) }.count == 2 }
        let keys = again.filter { $0.kind == .created(.active) }.map(\.key)
        #expect(keys.count == 2)
        let fresh = try #require(keys.last)
        #expect(fresh != keys.first)
        #expect(await eventually { await notifier.endpoint.notify(fresh, body: text("v1")) == .delivered(statusCode: 200) })
        #expect(answers.received == ["v1"])
        await watcher.endpoint.unsubscribe(handle)
    }

    @Test func aNotifyToASubscriberThatVanishedFailsWithoutWaitingForever() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop() } }
        let answers = Answers()
        let (key, _) = try await wired(notifier, watcher, answers: answers)
        await watcher.stop()

        let started = ContinuousClock.now
        let outcome = await notifier.endpoint.notify(key, body: text("lost"))
        guard case .failed = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        // 64·T1 with the tests' T1 of 50 ms: about 3.2 s.
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(await notifier.endpoint.counts.notifierSubscriptions == 0)
    }

    @Test func theOwnerSeesRestoredSubscriptionsRefreshesAndRemovals() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let answers = Answers()
        let handle = try await watcher.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: "w1"), expires: 2, handler: answers.handler)
        #expect(await eventually { await notifier.endpoint.counts.notifierSubscriptions == 1 })

        // Observing later still reports the live subscription, as created.
        let changes = Collector(await notifier.endpoint.observeSubscriptions(of: "m2m-alarm"))
        let first = try #require(await changes.wait { !$0.isEmpty }.first)
        #expect(first.kind == .created(.active))
        #expect(first.resource == SIPEventResource.key(for: notifier.uri))
        #expect(first.subscriber == watcher.uri.description)
        #expect(first.key.event == SIPEventHeader(package: "m2m-alarm", id: "w1"))

        // 2 s granted: the refresh comes within about a second.
        let refreshed = await changes.wait(timeout: .seconds(6)) { $0.contains { $0.kind == .refreshed } }
        #expect(refreshed.contains { $0.kind == .refreshed && $0.key == first.key })

        await watcher.endpoint.unsubscribe(handle)
        let ended = await changes.wait { $0.contains { $0.kind == .removed(.terminated(.timeout)) } }
        #expect(ended.last?.kind == .removed(.terminated(.timeout)))
    }

    @Test func theAdmissionRefusesANewSubscribeWithItsStatusReasonAndRetryAfter() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let seen = Locked<[String]>([])
        await notifier.endpoint.setSubscribeAdmission(for: "m2m-alarm") { request in
            seen.withLock { $0.append(request.headers["Event"] ?? "") }
            try? await Task.sleep(for: .milliseconds(20))  // an async decision, e.g. a database read
            return request.headers.from?.uri.user == "intruder" ? SIPRequestRefusal(statusCode: 403, reason: "Not The Current Consumer") : nil
        }
        let intruder = try await TestNode.start("intruder")
        defer { Task { await intruder.stop() } }

        let refused = try await intruder.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: "w1"), eventParameters: ["building": "b1"], expires: 600,
            handler: { _, _ in nil })
        let updates = Collector(refused.updates)
        #expect(await updates.wait { !$0.isEmpty }.first?.termination == .refused(statusCode: 403))
        #expect(await notifier.endpoint.counts.notifierSubscriptions == 0)
        #expect(seen.withLock { $0 } == ["m2m-alarm;id=w1;building=b1"])

        // Another subscriber passes and gets its subscription.
        _ = try await watcher.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: "w1"), expires: 600, handler: { _, _ in nil })
        #expect(await eventually { await notifier.endpoint.counts.notifierSubscriptions == 1 })
    }

    @Test func anAdmissionAskingToRetryLaterMakesTheSubscriberTryAgain() async throws {
        let notifier = try await TestNode.start("producer")
        let watcher = try await TestNode.start("consumer")
        defer { Task { await notifier.stop(); await watcher.stop() } }
        let attempts = Locked(0)
        await notifier.endpoint.setSubscribeAdmission(for: "m2m-alarm") { _ in
            let attempt = attempts.withLock { value in
                value += 1
                return value
            }
            return attempt == 1 ? SIPRequestRefusal(statusCode: 480, reason: "Instance Not Started", retryAfter: 1) : nil
        }
        _ = try await watcher.endpoint.subscribe(
            to: notifier.uri, event: SIPEventHeader(package: "m2m-alarm", id: "w1"), expires: 600, handler: { _, _ in nil })
        #expect(await eventually(timeout: .seconds(5)) { await notifier.endpoint.counts.notifierSubscriptions == 1 })
        #expect(attempts.withLock { $0 } == 2)
    }
}

/// A value behind a lock, shared with `@Sendable` closures.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.withLock { body(&value) }
    }
}
