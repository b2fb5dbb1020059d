import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// `sdp.deploy_ms` (issue 6): the time from `smf deploy` to every wire active, for 7 services on 7 `smf run` nodes on
// loopback — the release `smf` binary, spawned as in production (`.build/release/smf`, or `SMF_BENCH_SMF`).

extension Benchmark {
    static let deploy = Benchmark(figures: [Figure(name: "sdp.deploy_ms", unit: "ms", decimals: 0)]) { _ in
        ["sdp.deploy_ms": try await DeployBench.run()]
    }
}

enum DeployBench {
    /// Deploys a 7-service chain (a probe source, five relays, a sink; each on its own node, 6 wires) several
    /// times and returns the median of what `smf deploy` reports: from its start to the last wire active.
    static func run(rounds: Int = 5) async throws -> Double {
        let binary = ProcessInfo.processInfo.environment["SMF_BENCH_SMF"] ?? ".build/release/smf"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchmarkCheckFailed(description: "no smf binary at \(binary); `make bench` builds it (swift build -c release --product smf)")
        }
        let names = (1...7).map { "n\($0)" }
        var nodes: [Node] = []
        defer { for node in nodes { node.stop() } }
        for name in names {
            nodes.append(try await Node.start(binary: binary, user: name, bootstrap: nodes.first.map { "127.0.0.1:\($0.port)" }))
        }
        let file = NSTemporaryDirectory() + "smf-bench-chain-\(getpid()).xml"
        try composition(nodes: names).write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let deployer = nodes[0]

        // Until every node's record is in the overlay, the first deploy cannot resolve its placements.
        let ready = ContinuousClock.now + .seconds(60)
        while true {
            let attempt = try run(binary, ["deploy", file, "--no-wait", "--data", deployer.directory])
            if attempt.status == 0 { break }
            guard ContinuousClock.now < ready else { throw BenchmarkCheckFailed(description: "the chain never deployed: \(attempt.output)") }
            try await Task.sleep(for: .milliseconds(500))
        }
        _ = try run(binary, ["undeploy", "chain", "--data", deployer.directory])

        var samples: [Double] = []
        for round in 1...rounds {
            let result = try run(binary, ["deploy", file, "--timeout", "30", "--data", deployer.directory])
            guard result.status == 0, let line = result.output.split(separator: "\n").first(where: { $0.hasPrefix("all 6 wires active after ") }),
                let seconds = Double(line.split(separator: " ")[5])
            else {
                throw BenchmarkCheckFailed(description: "deploy round \(round) failed: \(result.output)")
            }
            samples.append(seconds * 1000)
            printError("smf-bench: sdp.deploy_ms round \(round): \(Int(seconds * 1000)) ms")
            let removed = try run(binary, ["undeploy", "chain", "--data", deployer.directory])
            guard removed.status == 0 else { throw BenchmarkCheckFailed(description: "undeploy failed: \(removed.output)") }
            try await Task.sleep(for: .milliseconds(300))
        }
        samples.sort()
        printError("smf-bench: sdp.deploy_ms samples \(samples.map { Int($0) }) (7 services on 7 nodes, 6 wires)")
        return samples[samples.count / 2]
    }

    static func composition(nodes: [String]) -> String {
        let relays = nodes[1..<6].enumerated().map { index, node in
            "    <service id=\"r\(index + 1)\" type=\"probe-relay\" placement=\"peer:\(node)\"/>"
        }
        let chain = ["src"] + (1...5).map { "r\($0)" } + ["sink"]
        let wires = (0..<6).map { "    <wire id=\"w\($0 + 1)\" from=\"\(chain[$0]).values\" to=\"\(chain[$0 + 1]).values\"/>" }
        return """
            <composition xmlns="urn:smf:composition:1" name="chain" community="bench" subcommunity="lab">
              <services>
                <service id="src" type="probe-source" placement="local"><param name="interval">100ms</param></service>
            \(relays.joined(separator: "\n"))
                <service id="sink" type="probe-sink" placement="peer:\(nodes[6])"/>
              </services>
              <wires>
            \(wires.joined(separator: "\n"))
              </wires>
            </composition>
            """
    }

    /// Runs `smf ARGUMENTS` to completion; returns its status and combined output.
    static func run(_ binary: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// One `smf run` child on a free loopback port (UDP and TCP).
    final class Node {
        let process: Process
        let port: Int
        let directory: String

        private init(process: Process, port: Int, directory: String) {
            self.process = process
            self.port = port
            self.directory = directory
        }

        static func start(binary: String, user: String, bootstrap: String?, scope: String = "bench/lab", extra: [String] = []) async throws -> Node {
            let port = try freePort()
            let directory = NSTemporaryDirectory() + "smf-bench-\(user)-\(getpid())-\(port)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments =
                [
                    "run", "--data", directory, "--user", user, "--listen", "udp:127.0.0.1:\(port)", "--listen", "tcp:127.0.0.1:\(port)",
                    "--scope", scope, "--overlay-stabilize-ms", "300", "--overlay-timeout-ms", "400", "--log-level", "error",
                ] + (bootstrap.map { ["--bootstrap", $0] } ?? []) + extra
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            let node = Node(process: process, port: port, directory: directory)
            let reader = stdout.fileHandleForReading
            let deadline = ContinuousClock.now + .seconds(30)
            var seen = ""
            while !seen.contains("smf ready: ") {
                guard ContinuousClock.now < deadline, process.isRunning else {
                    node.stop()
                    throw BenchmarkCheckFailed(description: "smf run \(user) did not start: \(seen)")
                }
                let chunk = reader.availableData
                if chunk.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            return node
        }

        func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                let deadline = ContinuousClock.now + .seconds(5)
                while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// A port in 20000–29999 that UDP and TCP can both bind on 127.0.0.1.
        static func freePort() throws -> Int {
            for _ in 0..<500 {
                let port = Int.random(in: 20000...29999)
                if canBind(port, Int32(SOCK_DGRAM.rawValue)) && canBind(port, Int32(SOCK_STREAM.rawValue)) { return port }
            }
            throw BenchmarkCheckFailed(description: "no free loopback port in 20000-29999")
        }

        private static func canBind(_ port: Int, _ type: Int32) -> Bool {
            let descriptor = socket(AF_INET, type, 0)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }
}
