import Foundation
import SMFNode
import Testing

/// `smf run --config FILE` on the real binary (docs/cli.md "Config file"); the syntax is unit-tested in
/// NodeConfigFileTests.
@Suite(.serialized) struct ConfigFileProcessTests {
    /// A fresh directory holding `smf.conf` with `text` (`DIR` in it stands for the directory).
    func configFile(_ text: String) throws -> (directory: URL, file: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("smf.conf")
        try text.replacingOccurrences(of: "DIR", with: directory.path).write(to: file, atomically: true, encoding: .utf8)
        return (directory, file)
    }

    @Test func nodeRunsFromItsConfigFileAndACommandLineOptionReplacesTheFilesValues() async throws {
        let filePort = try FreePorts.reserve()
        let (directory, file) = try configFile(
            """
            # a node configured by file
            data = DIR/data
            user = alice
            listen = ["udp:127.0.0.1:\(filePort)", "tcp:127.0.0.1:\(filePort)"]
            discovery = false
            overlay-stabilize-ms = 500
            log-level = warning
            """)
        defer { try? FileManager.default.removeItem(at: directory) }
        let node = try await SMFProcess(
            runArguments: ["--config", file.path, "--listen", "udp:127.0.0.1:0"], dataDirectory: directory.appendingPathComponent("data"))
        defer { node.cleanUp() }

        // The command line's one --listen replaced both of the file's.
        #expect(node.readyLine.hasPrefix("smf ready: udp:127.0.0.1:"), "\(node.readyLine)")
        #expect(!node.readyLine.contains("tcp:"), "\(node.readyLine)")
        #expect(node.udpPort != filePort && node.udpPort != 0)
        #expect(node.readyLine.hasSuffix("data=\(directory.path)/data"), "\(node.readyLine)")

        // The file's other keys hold: the user and the data directory the node answers on.
        let status = try await runTool(smfBinary(), ["status", "--data", directory.appendingPathComponent("data").path, "--json"])
        #expect(status.status == 0, "\(status.output)")
        let decoded = try JSONDecoder().decode(NodeStatus.self, from: Data(status.output.utf8))
        #expect(decoded.user == "alice")
        #expect(decoded.listeners == ["udp:127.0.0.1:\(node.udpPort)"])
        // log-level = warning: the info lines a node logs at start are not there.
        #expect(!node.standardError.contains("info"), "\(node.standardError)")
    }

    @Test func configProblemsNameTheFileAndLineAndExit64() async throws {
        let (directory, file) = try configFile(
            """
            data = DIR/data
            listn = udp:127.0.0.1:0
            """)
        defer { try? FileManager.default.removeItem(at: directory) }
        let unknown = try await runTool(smfBinary(), ["run", "--config", file.path], timeout: .seconds(20))
        #expect(unknown.status == 64)
        #expect(
            unknown.output == "smf run: \(file.path):2: unknown key 'listn' (did you mean 'listen'?); the keys are the long options of smf run\n")

        try "data = DIR/data\n\n# short\nregister-expires = 5\n".replacingOccurrences(of: "DIR", with: directory.path)
            .write(to: file, atomically: true, encoding: .utf8)
        let badValue = try await runTool(smfBinary(), ["run", "--config", file.path], timeout: .seconds(20))
        #expect(badValue.status == 64)
        #expect(
            badValue.output.hasPrefix(
                "smf run: \(file.path):4: bad value for 'register-expires': --register-expires must be between 60 and 86400 seconds, not 5"),
            "\(badValue.output)")

        try "data = DIR/data\nlisten = udp:localhost:5060\n".replacingOccurrences(of: "DIR", with: directory.path)
            .write(to: file, atomically: true, encoding: .utf8)
        let badListen = try await runTool(smfBinary(), ["run", "--config", file.path], timeout: .seconds(20))
        #expect(badListen.status == 64)
        #expect(badListen.output.hasPrefix("smf run: \(file.path):2: bad value for 'listen': "), "\(badListen.output)")

        try "data = DIR/data\nconfig = /etc/smf/other.conf\n".replacingOccurrences(of: "DIR", with: directory.path)
            .write(to: file, atomically: true, encoding: .utf8)
        let nested = try await runTool(smfBinary(), ["run", "--config", file.path], timeout: .seconds(20))
        #expect(nested.status == 64)
        #expect(nested.output == "smf run: \(file.path):2: 'config' cannot be set in a config file; give one file with --config\n")

        let missing = directory.appendingPathComponent("absent.conf").path
        let unreadable = try await runTool(smfBinary(), ["run", "--config", missing], timeout: .seconds(20))
        #expect(unreadable.status == 64)
        #expect(unreadable.output == "smf run: \(missing): cannot read the config file: No such file or directory\n")

        // Without data in the file or on the command line, ArgumentParser names the missing option.
        try "user = bob\n".write(to: file, atomically: true, encoding: .utf8)
        let noData = try await runTool(smfBinary(), ["run", "--config", file.path], timeout: .seconds(20))
        #expect(noData.status == 64)
        #expect(noData.output.contains("--data"), "\(noData.output)")
    }

    @Test func shippedExampleConfigIsValid() async throws {
        let example = packageRoot.appendingPathComponent("docs/examples/smf.conf").path
        // --help stops before the node starts; every key and value of the file is checked first.
        let result = try await runTool(smfBinary(), ["run", "--config", example, "--help"], timeout: .seconds(20))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("--config <file>"))
    }
}
