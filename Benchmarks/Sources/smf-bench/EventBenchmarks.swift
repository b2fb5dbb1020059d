import Foundation
import Logging
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The figures of issue 3: subscription dialogs per second between two smf nodes, the notifier's
// memory per live subscription, and NOTIFY fan-out of one state change to 10,000 subscribers.

extension Benchmark {
    static let events: [Benchmark] = [
        Benchmark(name: "sip.subscribe_notify", unit: "dialogs/s") { _ in try await measureSubscribeNotify(store: .sqlite) },
        Benchmark(name: "sip.subscribe_notify.memstore", unit: "dialogs/s") { _ in try await measureSubscribeNotify(store: .memory) },
        Benchmark(
            figures: [
                Figure(name: "sip.subscription_bytes", unit: "bytes/subscription"),
                Figure(name: "sip.notify_fanout", unit: "notifies/s"),
            ],
            measure: { _ in
                let figures = try measureNotifierAtScale()
                try await printSubscriptionBreakdown()
                return figures
            }),
    ]
}

// MARK: - sip.subscribe_notify

/// Dialogs timed per run (the brief asks for at least 2,000) and how many run at once.
private let timedDialogs = 2_000
private let dialogsInFlight = 50

enum BenchStore {
    /// `SQLiteEndpointStore` in a temporary data directory, as `smf run` uses (fsync per commit).
    case sqlite
    /// `SIPInMemoryEndpointStore`: the same work without the disk.
    case memory
}

/// `sip.subscribe_notify`: two smf nodes in this process, each a SIPTransport on its own UDP socket on
/// 127.0.0.1 with a SIPUserAgentCore and a SIPEndpoint. The watcher runs `dialogsInFlight` dialogs at
/// a time; one dialog is SUBSCRIBE/200, the first NOTIFY/200 (the dialog is then complete), and the
/// cleanup SUBSCRIBE Expires: 0/200 with its `terminated` NOTIFY/200, so the notifier ends where it
/// started. The figure is dialogs per wall-clock second, cleanup included.
private func measureSubscribeNotify(store kind: BenchStore) async throws -> Double {
    var logger = Logger(label: "smf-bench")
    logger.logLevel = .critical
    var directory: String?
    let store: any SIPEndpointStore
    switch kind {
    case .memory:
        store = SIPInMemoryEndpointStore()
    case .sqlite:
        let path = NSTemporaryDirectory() + "smf-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        directory = path
        store = SQLiteEndpointStore(database: try SMFDatabase(directory: path, logger: logger))
    }
    defer { if let directory { try? FileManager.default.removeItem(atPath: directory) } }

    let notifier = try await BenchNode.start(user: "alarm", store: store, logger: logger)
    let watcher = try await BenchNode.start(user: "watcher", store: SIPInMemoryEndpointStore(), logger: logger)
    do {
        try await notifier.endpoint.setState(package: "m2m-alarm", body: SIPEventBody(contentType: "text/plain", text: "quiet"))
        // Untimed warm-up: connections of the store, lazy initialisers, allocator pools.
        try await runDialogs(count: 200, from: watcher, to: notifier)
        let clock = ContinuousClock()
        let start = clock.now
        try await runDialogs(count: timedDialogs, from: watcher, to: notifier)
        let elapsed = clock.now - start
        let left = await notifier.endpoint.subscriptions().count + (await watcher.endpoint.subscriptions().count)
        guard left == 0 else { throw BenchmarkCheckFailed(description: "\(left) subscriptions left after unsubscribing") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        printError(String(format: "smf-bench:   %d dialogs, %d in flight, in %.2f s", timedDialogs, dialogsInFlight, seconds))
        await watcher.stop()
        await notifier.stop()
        return Double(timedDialogs) / seconds
    } catch {
        await watcher.stop()
        await notifier.stop()
        throw error
    }
}

/// Runs `count` complete dialogs, `dialogsInFlight` at a time; fails on the first that does not get an
/// `active` NOTIFY with the state, or does not end `unsubscribed`.
private func runDialogs(count: Int, from watcher: BenchNode, to notifier: BenchNode) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<dialogsInFlight {
            group.addTask {
                for _ in stride(from: lane, to: count, by: dialogsInFlight) {
                    try await runDialog(from: watcher, to: notifier)
                }
            }
        }
        try await group.waitForAll()
    }
}

private func runDialog(from watcher: BenchNode, to notifier: BenchNode) async throws {
    let handle = try await watcher.endpoint.subscribe(to: notifier.uri, package: "m2m-alarm", expires: 600, accept: ["text/plain"])
    var unsubscribed = false
    for await update in handle.updates {
        switch update {
        case .notification(let notification) where !unsubscribed:
            guard notification.state.value == .active, notification.body?.text == "quiet" else {
                throw BenchmarkCheckFailed(description: "first NOTIFY was \(notification.state), body \(notification.body?.text ?? "none")")
            }
            unsubscribed = true
            await watcher.endpoint.unsubscribe(handle)
        case .notification:
            continue  // the `terminated` NOTIFY; the termination follows
        case .terminated(let termination):
            guard termination == .unsubscribed else { throw BenchmarkCheckFailed(description: "subscription ended: \(termination)") }
            return
        }
    }
    throw BenchmarkCheckFailed(description: "subscription stream ended without a termination")
}

/// One in-process smf node: UA core, UDP transport on 127.0.0.1 and endpoint with `m2m-alarm`, all
/// with their default (RFC) timers.
private struct BenchNode {
    let transport: SIPTransport
    let endpoint: SIPEndpoint
    let uri: SIPURI

    static func start(user: String, store: any SIPEndpointStore, logger: Logger) async throws -> BenchNode {
        var configuration = SIPTransportConfiguration()
        configuration.listeners = [SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 0)]
        let core = SIPUserAgentCore()
        let transport = SIPTransport(configuration: configuration, handler: core, logger: logger)
        let bound = try await transport.bind()
        guard let port = bound.first(where: { $0.transport == .udp })?.port, let uri = SIPURI("sip:\(user)@127.0.0.1:\(port)") else {
            throw BenchmarkCheckFailed(description: "no UDP listener for \(user)")
        }
        let endpoint = SIPEndpoint(
            configuration: SIPEndpointConfiguration(localURI: uri), transport: transport, userAgent: core, store: store,
            packages: [alarmPackage], logger: logger)
        try await endpoint.start()
        return BenchNode(transport: transport, endpoint: endpoint, uri: uri)
    }

    func stop() async {
        await endpoint.shutdown()
        await transport.close()
    }
}

private let alarmPackage = SIPBasicEventPackage(
    name: "m2m-alarm", acceptedContentTypes: ["text/plain"],
    expiresPolicy: SIPExpiresPolicy(defaultSeconds: 3600, minimumSeconds: 60, maximumSeconds: 3600))

// MARK: - sip.subscription_bytes and sip.notify_fanout

/// Live subscriptions at the notifier for both figures: 10,000 (issue 3), or `SMF_BENCH_SUBSCRIPTIONS`
/// for a quicker look (creating them costs the notifier time growing with the square of the count).
private let liveSubscriptions = ProcessInfo.processInfo.environment["SMF_BENCH_SUBSCRIPTIONS"].flatMap(Int.init).map { max($0, 100) } ?? 10_000
/// SUBSCRIBEs awaiting their first NOTIFY at a time while the 10,000 are created.
private let subscribeWindow = 200
/// RFC 3261 Timer J for UDP (64·T1 with T1 = 500 ms) plus a margin: after it, the SUBSCRIBE server
/// transactions are gone and what remains at the notifier is the subscriptions themselves.
private let transactionDrain = 33.0

/// `sip.subscription_bytes` and `sip.notify_fanout`: one notifier node in its own process
/// (`smf-bench-notifier`, SQLite store in a temporary data directory) and a raw UDP client here
/// holding 10,000 subscriptions (10,000 distinct watcher URIs and dialogs on one socket).
///
/// Memory: the node's VmRSS before and after the 10,000 subscriptions, divided by 10,000. Before each
/// reading glibc's cached free heap is returned (`malloc_trim`) so that RSS counts what is live; the
/// second reading waits for the transaction layer to drain (Timer J), so what remains is the
/// subscriptions themselves. Fan-out: from the `setState` command to the 200 for the last of the
/// 10,000 NOTIFYs carrying the new state.
private func measureNotifierAtScale() throws -> [String: Double] {
    if liveSubscriptions != 10_000 {
        printError("smf-bench:   SMF_BENCH_SUBSCRIPTIONS: \(liveSubscriptions) live subscriptions instead of 10,000")
    }
    let node = try NotifierProcess(store: "sqlite")
    defer { node.stop() }
    let client = try RawSubscriberClient(notifierPort: node.port)
    defer { client.stop() }

    // Warm-up: every path once (subscribe, NOTIFY, unsubscribe). Its few transactions still alive at
    // the first reading make it at most a few bytes per subscription too high.
    let warmUp = try client.subscribe(count: 20, window: subscribeWindow)
    try client.unsubscribe(warmUp, window: subscribeWindow)
    guard try node.number("count") == 0 else { throw BenchmarkCheckFailed(description: "warm-up subscriptions were not removed") }
    let before = try node.memory(trimmed: true)

    let fillStart = client.now()
    client.onProgress { created in
        let seconds = client.now() - fillStart
        printError(String(format: "smf-bench:   %5d subscriptions after %5.1f s", created, seconds))
    }
    _ = try client.subscribe(count: liveSubscriptions, window: subscribeWindow, timeout: 900)
    client.onProgress(nil)
    let fillSeconds = client.now() - fillStart
    let filledRaw = try node.memory(trimmed: false)
    printError(
        String(
            format: "smf-bench:   %d subscriptions created in %.1f s (%.0f/s on average, %d awaiting NOTIFY at a time)",
            liveSubscriptions, fillSeconds, Double(liveSubscriptions) / fillSeconds, subscribeWindow))
    guard try node.number("count") == liveSubscriptions else {
        throw BenchmarkCheckFailed(description: "the notifier does not hold \(liveSubscriptions) subscriptions")
    }
    printError("smf-bench:   waiting \(Int(transactionDrain)) s for the SUBSCRIBE transactions to expire")
    sleepSeconds(transactionDrain)
    let after = try node.memory(trimmed: true)
    let perSubscription = Double(after.resident - before.resident) / Double(liveSubscriptions)
    printError(
        String(
            format: "smf-bench:   notifier RSS %.1f MB -> %.1f MB (%.1f MB right after subscribing, untrimmed); heap in use %.1f MB -> %.1f MB (%.0f B/subscription; %.1f MB right after subscribing)",
            Double(before.resident) / 1e6, Double(after.resident) / 1e6, Double(filledRaw.resident) / 1e6, Double(before.heap) / 1e6,
            Double(after.heap) / 1e6, Double(after.heap - before.heap) / Double(liveSubscriptions), Double(filledRaw.heap) / 1e6))
    let databaseBytes = directoryBytes(node.directory)
    printError(
        String(
            format: "smf-bench:   data directory %.1f MB (%.0f B/subscription on disk)", Double(databaseBytes) / 1e6,
            Double(databaseBytes) / Double(liveSubscriptions)))

    // Fan-out of one state change to all of them.
    client.watch(body: "alarm 1")
    let fanoutStart = client.now()
    try node.send("set alarm 1")
    let fanoutEnd = try client.waitForWatchedBody(count: liveSubscriptions, timeout: 900)
    let fanoutSeconds = fanoutEnd - fanoutStart
    printError(String(format: "smf-bench:   %d NOTIFYs answered %.2f s after setState", liveSubscriptions, fanoutSeconds))
    // The node answers the command once its endpoint actor is free again, i.e. after it has handled
    // the 200s to its NOTIFYs: how long the fan-out keeps the notifier busy.
    let reply = try node.readLine()
    guard reply == "ok" else { throw BenchmarkCheckFailed(description: "setState answered '\(reply)'") }
    printError(String(format: "smf-bench:   the notifier answered the setState command %.1f s after it", client.now() - fanoutStart))
    guard try node.number("count") == liveSubscriptions else {
        throw BenchmarkCheckFailed(description: "subscriptions were lost during the fan-out")
    }
    return [
        "sip.subscription_bytes": perSubscription,
        "sip.notify_fanout": Double(liveSubscriptions) / fanoutSeconds,
    ]
}

private func sleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Bytes of the regular files directly in `path` (the database, its WAL and shared memory).
private func directoryBytes(_ path: String) -> Int {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return files.reduce(0) { total, name in
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
        return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
    }
}

/// The part of a subscription's memory measurable alone (the notifier's own state), on stderr.
private func printSubscriptionBreakdown() async throws {
    guard let machine = try notifierMachineBytesPerSubscription(count: liveSubscriptions) else {
        printError("smf-bench:   (no heap statistics on this platform: no breakdown)")
        return
    }
    printError(
        String(
            format: "smf-bench:   breakdown: SIPNotifier machine %.0f B/subscription (subscription + dialog + strings)",
            machine))
}
