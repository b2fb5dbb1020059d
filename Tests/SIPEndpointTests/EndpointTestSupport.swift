import Foundation
import Logging
import SIPCore
import SIPEvents
import SIPSyntax
import SIPTransport
import Testing

@testable import SIPEndpoint

/// The test package: alarms as plain text, subscriptions from 1 s (so refresh and expiry can be
/// watched in a test) up to an hour.
func alarmPackage(minimumSeconds: Int = 1) -> SIPBasicEventPackage {
    SIPBasicEventPackage(
        name: "m2m-alarm", acceptedContentTypes: ["text/plain"],
        expiresPolicy: SIPExpiresPolicy(defaultSeconds: 60, minimumSeconds: minimumSeconds, maximumSeconds: 3600))
}

func text(_ value: String) -> SIPEventBody { SIPEventBody(contentType: "text/plain", text: value) }

/// One in-process node: a UA core, a transport on 127.0.0.1 and an endpoint on top.
struct TestNode {
    let user: String
    let transport: SIPTransport
    let endpoint: SIPEndpoint
    let udpPort: Int
    let tcpPort: Int?

    /// Our AoR over UDP (`sip:user@127.0.0.1:port`).
    var uri: SIPURI { SIPURI("sip:\(user)@127.0.0.1:\(udpPort)")! }
    /// Our AoR over TCP.
    var tcpURI: SIPURI { SIPURI("sip:\(user)@127.0.0.1:\(tcpPort ?? 0);transport=tcp")! }

    /// Starts a node. Fixed ports (to restart on the same address) or 0 for ephemeral ones.
    static func start(
        _ user: String, udpPort: Int = 0, tcpPort: Int? = 0, store: any SIPEndpointStore = SIPInMemoryEndpointStore(),
        packages: [any SIPEventPackage] = [alarmPackage()], contact: ((Int) -> SIPURI)? = nil,
        configure: (inout SIPEndpointConfiguration) -> Void = { _ in }
    ) async throws -> TestNode {
        var transportConfiguration = SIPTransportConfiguration()
        transportConfiguration.listeners = [SIPListenAddress(transport: .udp, host: "127.0.0.1", port: udpPort)]
        if let tcpPort { transportConfiguration.listeners.append(SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: tcpPort)) }
        // Short T1: an unanswered request over UDP times out after 64·T1 = 3.2 s.
        transportConfiguration.timers.t1 = .milliseconds(50)
        transportConfiguration.timers.t2 = .milliseconds(400)
        var logger = Logger(label: "test.\(user)")
        logger.logLevel = .critical
        let core = SIPUserAgentCore()
        let transport = SIPTransport(configuration: transportConfiguration, handler: core, logger: logger)
        let bound = try await transport.bind()
        let udp = bound.first { $0.transport == .udp }?.port ?? 0
        let tcp = bound.first { $0.transport == .tcp }?.port
        let localURI = SIPURI("sip:\(user)@127.0.0.1:\(udp)")!
        var configuration = SIPEndpointConfiguration(localURI: localURI, contact: contact?(udp))
        configuration.subscriberRetryDelay = .milliseconds(500)
        configuration.notifyWait = .seconds(5)
        configure(&configuration)
        let endpoint = SIPEndpoint(configuration: configuration, transport: transport, userAgent: core, store: store, packages: packages, logger: logger)
        try await endpoint.start()
        return TestNode(user: user, transport: transport, endpoint: endpoint, udpPort: udp, tcpPort: tcp)
    }

    func stop() async {
        await endpoint.shutdown()
        await transport.close()
    }
}

/// Collects a stream's elements so a test can wait for them with a deadline.
final class Collector<Element: Sendable>: Sendable {
    private actor Box {
        var items: [Element] = []
        var finished = false
        func append(_ item: Element) { items.append(item) }
        func finish() { finished = true }
    }

    private let box = Box()

    init(_ stream: AsyncStream<Element>) {
        let box = self.box
        Task {
            for await item in stream { await box.append(item) }
            await box.finish()
        }
    }

    var items: [Element] { get async { await box.items } }
    var isFinished: Bool { get async { await box.finished } }

    /// Waits until `condition` holds for the collected items (or `timeout` passes) and returns them.
    @discardableResult
    func wait(timeout: Duration = .seconds(10), until condition: ([Element]) -> Bool) async -> [Element] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let items = await box.items
            if condition(items) { return items }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await box.items
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

extension SIPSubscriptionUpdate {
    var notification: SIPSubscriberNotification? {
        if case .notification(let notification) = self { notification } else { nil }
    }

    var termination: SIPSubscriberTermination? {
        if case .terminated(let termination) = self { termination } else { nil }
    }
}

extension Array where Element == SIPSubscriptionUpdate {
    var notifications: [SIPSubscriberNotification] { compactMap(\.notification) }
    var bodies: [String?] { notifications.map { $0.body?.text } }
}
