import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

@Suite(.serialized) struct SIPEndpointPublicationTests {
    @Test func publishedStateReachesWatchersAndIsComposedAtTheESC() async throws {
        let store = SIPInMemoryEndpointStore()
        let presentity = try await TestNode.start("alice", store: store)
        let watcher = try await TestNode.start("carol")
        let publisher = try await TestNode.start("bob")
        defer { Task { await presentity.stop(); await watcher.stop(); await publisher.stop() } }

        let subscription = try await watcher.endpoint.subscribe(to: presentity.uri, package: "m2m-alarm", expires: 600)
        let updates = Collector(subscription.updates)
        await updates.wait { $0.notifications.count >= 1 }

        let publication = try await publisher.endpoint.publish(to: presentity.uri, package: "m2m-alarm", body: text("smoke"), expires: 600)
        let reports = Collector(publication.updates)
        let published = await reports.wait { !$0.isEmpty }
        guard case .published(let tag, let expires) = published.first else {
            Issue.record("expected a successful PUBLISH, got \(published)")
            return
        }
        #expect(!tag.isEmpty)
        #expect(expires == 600)
        #expect(await updates.wait { $0.bodies.contains("smoke") }.bodies.last == "smoke")
        #expect(await presentity.endpoint.publishedState(package: "m2m-alarm")?.text == "smoke")
        #expect(store.count(of: .publication) == 1)

        await publication.modify(text("fire"))
        #expect(await updates.wait { $0.bodies.contains("fire") }.bodies.last == "fire")
        #expect(store.count(of: .publication) == 1)

        await publication.remove()
        let ended = await reports.wait { $0.contains(.removed) }
        #expect(ended.last == .removed)
        #expect(await presentity.endpoint.publishedState(package: "m2m-alarm") == nil)
        #expect(store.count(of: .publication) == 0)
        // The last NOTIFY tells the watcher the resource has no state any more.
        #expect(await updates.wait { $0.notifications.count >= 4 }.notifications.last?.body == nil)
    }

    @Test func publicationLostByTheESCIsRepublishedAfter412() async throws {
        let first = try await TestNode.start("alice")
        let publisher = try await TestNode.start("bob")
        let publication = try await publisher.endpoint.publish(to: first.uri, package: "m2m-alarm", body: text("ok"), expires: 600)
        let reports = Collector(publication.updates)
        let firstTag = await reports.wait { !$0.isEmpty }.first

        await first.stop()
        let second = try await TestNode.start("alice", udpPort: first.udpPort, tcpPort: first.tcpPort)
        defer { Task { await second.stop(); await publisher.stop() } }
        await publication.refresh()
        let all = await reports.wait { $0.count >= 2 }
        #expect(all.count == 2)
        #expect(all.last != firstTag)
        if case .published = all.last {} else { Issue.record("expected a re-publication, got \(all)") }
        #expect(await second.endpoint.publishedState(package: "m2m-alarm")?.text == "ok")
    }

    @Test func restartedESCKeepsPublicationsAndTheirState() async throws {
        let store = SIPInMemoryEndpointStore()
        let first = try await TestNode.start("alice", store: store)
        let publisher = try await TestNode.start("bob")
        let publication = try await publisher.endpoint.publish(to: first.uri, package: "m2m-alarm", body: text("kept"), expires: 600)
        await Collector(publication.updates).wait { !$0.isEmpty }
        await first.stop()
        let second = try await TestNode.start("alice", udpPort: first.udpPort, tcpPort: first.tcpPort, store: store)
        defer { Task { await second.stop(); await publisher.stop() } }
        #expect(await second.endpoint.publishedState(package: "m2m-alarm")?.text == "kept")
        #expect(await second.endpoint.counts.publications == 1)
    }
}
