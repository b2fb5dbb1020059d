import ControlChannel
import Foundation
import SMFNode
import Testing

/// `smf` commands reaching a running node through `<data>/control.sock`.
@Suite(.serialized) struct ControlTests {
    @Test func inProcessNodeAnswersNodeStatusOverItsControlSocket() async throws {
        try await withNode { node, udpPort, tcpPort in
            let status = try await ControlClient.withConnection(dataDirectory: node.configuration.dataDirectory) { client in
                try await client.call("node.status")
            }
            let decoded = try status.decode(NodeStatus.self)
            #expect(decoded.version == SMFVersion.current)
            #expect(decoded.user == "smf")
            #expect(decoded.dataDirectory == node.configuration.dataDirectory)
            #expect(decoded.listeners == ["udp:127.0.0.1:\(udpPort)", "tcp:127.0.0.1:\(tcpPort)"])
            #expect(decoded.pid == Int(ProcessInfo.processInfo.processIdentifier))
            #expect(decoded.uptimeSeconds >= 0)
            #expect(node.control.commandNames.contains("node.status"))
        }
    }

    @Test func statusCommandPrintsTheRunningNode() async throws {
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        let text = try await runTool(smfBinary(), ["status", "--data", node.dataDirectory.path], timeout: .seconds(20))
        #expect(text.status == 0, "output:\n\(text.output)")
        let lines = text.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("smf 0.1.0 node 'smf' running (pid \(node.process.processIdentifier), up ") == true, "\(lines)")
        #expect(lines.contains("data:      \(node.dataDirectory.path)"))
        #expect(lines.contains("listeners: udp:127.0.0.1:\(node.udpPort) tcp:127.0.0.1:\(node.tcpPort)"))

        let json = try await runTool(smfBinary(), ["status", "--data", node.dataDirectory.path, "--json"], timeout: .seconds(20))
        #expect(json.status == 0, "output:\n\(json.output)")
        let status = try JSONDecoder().decode(NodeStatus.self, from: Data(json.output.utf8))
        #expect(status.pid == Int(node.process.processIdentifier))
        #expect(status.listeners == ["udp:127.0.0.1:\(node.udpPort)", "tcp:127.0.0.1:\(node.tcpPort)"])
        #expect(status.dataDirectory == node.dataDirectory.path)
        #expect(status.version == "0.1.0")
    }

    @Test func controlSocketIsOwnerOnlyAndGoneAfterACleanStop() async throws {
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        let socketPath = node.dataDirectory.appendingPathComponent("control.sock").path
        let attributes = try FileManager.default.attributesOfItem(atPath: socketPath)
        #expect(attributes[.type] as? FileAttributeType == .typeSocket)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let outcome = try #require(try await node.stop(with: SIGTERM), "smf did not stop after SIGTERM")
        #expect(outcome.status == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
        let status = try await runTool(smfBinary(), ["status", "--data", node.dataDirectory.path], timeout: .seconds(20))
        #expect(status.status == 1)
        #expect(status.output == "smf status: no smf node is running with data dir \(node.dataDirectory.path) (no control.sock)\n")
    }

    @Test func secondNodeOnTheSameDataDirectoryIsRefused() async throws {
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        let second = try await runTool(
            smfBinary(),
            ["run", "--data", node.dataDirectory.path, "--listen", "udp:127.0.0.1:0"],
            timeout: .seconds(20)
        )
        #expect(second.status == 1)
        #expect(second.output.contains("smf run: another smf node is running with data dir \(node.dataDirectory.path)"), "output:\n\(second.output)")
        // The first node still serves its control channel.
        let status = try await runTool(smfBinary(), ["status", "--data", node.dataDirectory.path], timeout: .seconds(20))
        #expect(status.status == 0, "output:\n\(status.output)")
    }

    @Test func nodeStartsOverTheStaleSocketOfACrashedNode() async throws {
        let crashed = try await SMFProcess()
        defer { crashed.cleanUp() }
        let directory = crashed.dataDirectory.path
        kill(crashed.process.processIdentifier, SIGKILL)
        crashed.process.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: crashed.dataDirectory.appendingPathComponent("control.sock").path))
        let stale = try await runTool(smfBinary(), ["status", "--data", directory], timeout: .seconds(20))
        #expect(stale.status == 1)
        #expect(stale.output.contains("no smf node is running with data dir \(directory) (stale control.sock left by a node that stopped)"))

        let restarted = try await ControlledRun(dataDirectory: directory)
        defer { restarted.stop() }
        let status = try await runTool(smfBinary(), ["status", "--data", directory, "--json"], timeout: .seconds(20))
        #expect(status.status == 0, "output:\n\(status.output)")
        let decoded = try JSONDecoder().decode(NodeStatus.self, from: Data(status.output.utf8))
        #expect(decoded.pid == Int(restarted.process.processIdentifier))
    }
}

/// `smf run` on a given data directory (``SMFProcess`` always makes a fresh one), waiting for its ready line.
private final class ControlledRun {
    let process = Process()
    private let output = OutputBuffer()

    init(dataDirectory: String) async throws {
        process.executableURL = smfBinary()
        process.arguments = ["run", "--data", dataDirectory, "--listen", "udp:127.0.0.1:0"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while !output.text.contains("smf ready: ") && process.isRunning && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard output.text.contains("smf ready: ") else {
            stop()
            throw ProcessTestError(description: "smf run printed no ready line; output: \(output.text)")
        }
    }

    /// Stops the node with SIGTERM, or SIGKILL when it has not exited 10 s later.
    func stop() {
        endProcess(process, with: SIGTERM, grace: .seconds(10))
    }
}
