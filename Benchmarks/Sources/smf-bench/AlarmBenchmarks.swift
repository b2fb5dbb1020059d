import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Building surveillance on release `smf run` processes (issue 7):
// - `alarm.latency_p50_ms` / `alarm.latency_p99_ms`: from a smoke reading's arrival at the recorder (the first hop
//   of the alarm's trace) to the supporter's node having stored the alarm its NOTIFY brought (its inbox), for the
//   seven services on seven nodes and the supporter on an eighth, over loopback; SMF_BENCH_ALARMS alarms (default
//   1000), one reading each, one every 20 ms (`SMF_BENCH_ALARM_GAP_MS`).
// - `alarm.lost`: alarms raised but never in the supporter's inbox, summed over the latency run, a run with 10% of
//   every node's UDP datagrams dropped (`--inject-udp-loss 0.1`, 100 alarms), and 100 alarms raised during a burst
//   of 20,000 readings into the recorder. Must be 0.
// - `node.rss_idle_mb`: the resident memory of one node running all seven services, idle, 5 s after the deploy.

extension Benchmark {
    static let alarms = Benchmark(
        figures: [
            Figure(name: "alarm.latency_p50_ms", unit: "ms", decimals: 2), Figure(name: "alarm.latency_p99_ms", unit: "ms", decimals: 2),
            Figure(name: "alarm.lost", unit: "alarms", decimals: 0), Figure(name: "node.rss_idle_mb", unit: "MB", decimals: 1),
        ]
    ) { _ in
        try await AlarmBench.run()
    }
}

enum AlarmBench {
    static let application = "surveillance-bench"
    static let scope = "bench/lab"
    /// Milliseconds between two readings (`SMF_BENCH_ALARM_GAP_MS`, default 20).
    static let gapMilliseconds = Int(ProcessInfo.processInfo.environment["SMF_BENCH_ALARM_GAP_MS"] ?? "") ?? 20
    static let serviceNodes = ["house-12", "registry", "availability", "forwarder", "evaluator", "selector", "notifier"]

    static func run() async throws -> [String: Double] {
        let binary = ProcessInfo.processInfo.environment["SMF_BENCH_SMF"] ?? ".build/release/smf"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchmarkCheckFailed(description: "no smf binary at \(binary); `make bench` builds it (swift build -c release --product smf)")
        }
        let count = Int(ProcessInfo.processInfo.environment["SMF_BENCH_ALARMS"] ?? "") ?? 1000
        var results: [String: Double] = [:]

        // 1. Latency, no loss.
        let latency = try await Cluster.measure(binary: binary, alarms: count, loss: 0, burst: 0, label: "latency")
        let sorted = latency.latencies.sorted()
        guard !sorted.isEmpty else { throw BenchmarkCheckFailed(description: "no alarm reached the supporter") }
        results["alarm.latency_p50_ms"] = sorted[sorted.count / 2]
        results["alarm.latency_p99_ms"] = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        printError(
            "smf-bench: alarm latency over \(sorted.count) alarms: min \(fmt(sorted.first!)) p50 \(fmt(results["alarm.latency_p50_ms"]!)) p90 \(fmt(sorted[sorted.count * 9 / 10])) p99 \(fmt(results["alarm.latency_p99_ms"]!)) max \(fmt(sorted.last!)) ms"
        )
        printError("smf-bench: where the time goes (median/p99 per hop, ms): \(latency.hops)")
        // 2. 10% of UDP datagrams dropped by every node. 3. Alarms during a 20,000-reading burst.
        let lossy = try await Cluster.measure(binary: binary, alarms: 100, loss: 0.1, burst: 0, label: "loss")
        let burst = try await Cluster.measure(binary: binary, alarms: 100, loss: 0, burst: 20_000, label: "burst")
        results["alarm.lost"] = Double(latency.lost + lossy.lost + burst.lost)
        printError("smf-bench: alarms lost: \(latency.lost) of \(count) (latency run), \(lossy.lost) of 100 (10% UDP loss), \(burst.lost) of 100 (during a 20,000-reading burst)")
        results["node.rss_idle_mb"] = try await idleMemory(binary: binary)
        return results
    }

    static func fmt(_ value: Double) -> String { String(format: "%.2f", value) }

    /// The composition: the seven services each on its own node (`peer:`), every building's readings forwarded, and
    /// one rule: smoke above 0.5 is a fire.
    static func composition(placements: [String: String]) -> String {
        func place(_ service: String) -> String { placements[service].map { "peer:\($0)" } ?? "local" }
        return """
            <composition xmlns="urn:smf:composition:1" name="\(application)" community="bench" subcommunity="lab">
              <services>
                <service id="registry" type="supporter-registry" placement="\(place("registry"))"/>
                <service id="availability" type="supporter-availability" placement="\(place("availability"))"/>
                <service id="recorder" type="sensor-recorder" placement="\(place("recorder"))"/>
                <service id="forwarder" type="sensor-forwarder" placement="\(place("forwarder"))"/>
                <service id="evaluator" type="event-evaluator" placement="\(place("evaluator"))">
                  <param name="mode">push</param>
                  <rule id="fire" alarm="fire" severity="critical"><threshold kind="smoke" above="0.5"/></rule>
                </service>
                <service id="selector" type="supporter-selector" placement="\(place("selector"))"/>
                <service id="notifier" type="supporter-notifier" placement="\(place("notifier"))">
                  <param name="variant">notify</param>
                </service>
              </services>
              <wires>
                <wire id="forward" from="recorder.forwards" to="forwarder.requests"/>
                <wire id="evaluate" from="forwarder.readings" to="evaluator.readings"/>
                <wire id="alarms" from="evaluator.alarms" to="selector.alarms"/>
                <wire id="responsible" from="registry.supporters" to="selector.supporters"/>
                <wire id="available" from="availability.availability" to="selector.availability"/>
                <wire id="notify" from="selector.selections" to="notifier.selections"/>
              </wires>
            </composition>
            """
    }

    /// Deploys `text` from `deployer` (retried while the overlay lacks records) and waits for every wire.
    static func deploy(_ text: String, binary: String, on deployer: DeployBench.Node) async throws {
        let file = NSTemporaryDirectory() + "smf-bench-surveillance-\(getpid())-\(deployer.port).xml"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let attempt = try DeployBench.run(binary, ["deploy", file, "--timeout", "30", "--data", deployer.directory])
            if attempt.status == 0 { return }
            guard ContinuousClock.now < deadline else { throw BenchmarkCheckFailed(description: "the application never deployed: \(attempt.output)") }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// What one run measured.
    struct Outcome {
        var latencies: [Double]
        var lost: Int
        var hops: String
    }

    enum Cluster {
        static func measure(binary: String, alarms count: Int, loss: Double, burst: Int, label: String) async throws -> Outcome {
            var nodes: [String: DeployBench.Node] = [:]
            defer { for node in nodes.values { node.stop() } }
            let extra = loss > 0 ? ["--inject-udp-loss", "\(loss)"] : []
            let first = try await DeployBench.Node.start(binary: binary, user: serviceNodes[0], bootstrap: nil, scope: scope, extra: extra)
            nodes[serviceNodes[0]] = first
            for name in serviceNodes.dropFirst() + ["bob", "gateway"] {
                nodes[name] = try await DeployBench.Node.start(
                    binary: binary, user: name, bootstrap: "127.0.0.1:\(first.port)", scope: scope,
                    extra: extra + (name == "bob" ? ["--alarm-auto-answer", "accept"] : []))
            }
            let placements = ["recorder": "house-12", "registry": "registry", "availability": "availability", "forwarder": "forwarder",
                "evaluator": "evaluator", "selector": "selector", "notifier": "notifier"]
            try await deploy(composition(placements: placements), binary: binary, on: first)
            guard let bob = nodes["bob"], let notifier = nodes["notifier"], let gateway = nodes["gateway"] else { return Outcome(latencies: [], lost: count, hops: "") }
            let registered = try await retry(for: .seconds(30)) {
                try DeployBench.run(binary, ["supporter", "register", "--app", application, "--kinds", "fire", "--buildings", "*", "--data", bob.directory]).status == 0
            }
            guard registered else { throw BenchmarkCheckFailed(description: "bob could not register") }
            let ready = try await retry(for: .seconds(30)) {
                let watching = try DeployBench.run(binary, ["subscriptions", "--data", bob.directory]).output
                    .split(separator: "\n").contains { $0.hasPrefix("subscriber") && $0.contains("m2m-alarm") && $0.contains("active") }
                let app = try DeployBench.run(binary, ["app", "show", application, "--data", first.directory]).output
                return watching && app.contains("1 supporter registered")
            }
            guard ready else { throw BenchmarkCheckFailed(description: "the supporter never reached the selector") }

            let control = try ControlSocket(path: first.directory + "/control.sock")
            var burstTask: Task<Int32, any Error>?
            if burst > 0 {
                let directory = gateway.directory
                burstTask = Task.detached {
                    try DeployBench.run(binary, [
                        "sensor", "report", "--app", application, "--id", "temperature", "--building", "burst", "--value", "21", "--count", "\(burst)",
                        "--data", directory,
                    ]).status
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            printError("smf-bench: \(label): \(count) alarms\(loss > 0 ? " with \(Int(loss * 100))% UDP loss" : "")\(burst > 0 ? " during a \(burst)-reading burst" : "")…")
            for index in 1...count {
                let arguments =
                    #"{"application":"\#(application)","sensor":"smoke-1","building":"b-\#(index)","kind":"smoke","value":0.9,"count":1,"window":1}"#
                _ = try control.call("sensor.report", arguments)
                try await Task.sleep(for: .milliseconds(gapMilliseconds))
            }
            if let burstTask {
                let status = try await burstTask.value
                if status != 0 { printError("smf-bench: \(label): the burst did not all go in (exit \(status))") }
            }
            // Wait for the inbox to hold every alarm (or for nothing to change for 30 s).
            let inbox = try ControlSocket(path: bob.directory + "/control.sock")
            var received: [[String: Any]] = []
            var lastChange = ContinuousClock.now
            while received.count < count, ContinuousClock.now - lastChange < .seconds(30) {
                let now = try inbox.call("alarm.inbox", #"{"after":0,"limit":1000000}"#) as? [[String: Any]] ?? []
                if now.count != received.count { lastChange = ContinuousClock.now }
                received = now
                if received.count < count { try await Task.sleep(for: .milliseconds(200)) }
            }
            var latencies: [Double] = []
            var hopTimes: [String: [Double]] = [:]
            if loss == 0 && burst == 0 {
                let shows = try ControlSocket(path: notifier.directory + "/control.sock")
                for alarm in received {
                    guard let id = alarm["id"] as? String, let receivedAt = (alarm["receivedAtNanoseconds"] as? NSNumber)?.int64Value,
                        let detail = try shows.call("alarms.show", #"{"limit":1,"id":"\#(id)"}"#) as? [String: Any],
                        let origin = (detail["originNanoseconds"] as? NSNumber)?.int64Value
                    else { continue }
                    latencies.append(Double(receivedAt - origin) / 1e6)
                    var previous = 0.0
                    for hop in detail["path"] as? [[String: Any]] ?? [] {
                        let at = Double(((hop["atNanoseconds"] as? NSNumber)?.int64Value ?? origin) - origin) / 1e6
                        let key = "\(hop["service"] as? String ?? "?") \(hop["action"] as? String ?? "?")"
                        hopTimes[key, default: []].append(at - previous)
                        previous = at
                    }
                    hopTimes["notifier → supporter's inbox", default: []].append(Double(receivedAt - origin) / 1e6 - previous)
                }
            }
            let order = ["recorder request", "recorder emitted", "forwarder received", "forwarder emitted", "evaluator received", "evaluator emitted",
                "selector received", "selector emitted", "notifier received", "notifier → supporter's inbox"]
            let hops = order.compactMap { key in
                hopTimes[key].map { times in
                    let sorted = times.sorted()
                    return "\(key) +\(fmt(sorted[sorted.count / 2]))/\(fmt(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]))"
                }
            }.joined(separator: ", ")
            return Outcome(latencies: latencies, lost: max(0, count - received.count), hops: hops)
        }

        static func retry(for limit: Duration, _ body: () async throws -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if try await body() { return true }
                try await Task.sleep(for: .milliseconds(300))
            }
            return false
        }
    }

    /// One node running all seven services, 5 s after they started: its resident set size in MB.
    static func idleMemory(binary: String) async throws -> Double {
        let node = try await DeployBench.Node.start(binary: binary, user: "house-12", bootstrap: nil, scope: scope, extra: [])
        defer { node.stop() }
        try await deploy(composition(placements: [:]), binary: binary, on: node)
        try await Task.sleep(for: .seconds(5))
        let status = try String(contentsOfFile: "/proc/\(node.process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { throw BenchmarkCheckFailed(description: "no VmRSS for the node") }
        let parts = status.split(separator: "\n").filter { $0.hasPrefix("VmRSS:") || $0.hasPrefix("RssAnon:") || $0.hasPrefix("RssFile:") }
            .map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
        printError("smf-bench: one node with all seven services, idle: \(parts.joined(separator: ", ")) (RssFile: the binary and libraries mapped, shared with other processes)")
        return kilobytes / 1024
    }
}

/// A blocking client of a node's control socket (`<data>/control.sock`): one JSON request per line, one answer.
final class ControlSocket {
    private let descriptor: Int32
    private var nextID = 0
    private var buffer: [UInt8] = []

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BenchmarkCheckFailed(description: "no socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw BenchmarkCheckFailed(description: "cannot connect to \(path)")
        }
    }

    deinit { close(descriptor) }

    /// Sends `command` with the JSON `arguments`; returns the result, decoded by JSONSerialization.
    func call(_ command: String, _ arguments: String) throws -> Any? {
        nextID += 1
        let line = Array(#"{"id":\#(nextID),"command":"\#(command)","args":\#(arguments)}"#.utf8) + [10]
        var written = 0
        while written < line.count {
            let count = line[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw BenchmarkCheckFailed(description: "control socket write failed") }
            written += count
        }
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let frame = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard let object = try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any] else { continue }
                if object["ok"] as? Bool == false {
                    throw BenchmarkCheckFailed(description: "\(command) failed: \(object["error"] ?? "?")")
                }
                return object["result"]
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw BenchmarkCheckFailed(description: "control socket closed") }
            buffer += chunk[..<count]
        }
    }
}
