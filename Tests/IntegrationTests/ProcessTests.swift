import Foundation
import Testing

/// The built `smf` binary against real SIP tools (sipsak, sipp) and signals.
@Suite(.serialized) struct ProcessTests {
    @Test func sipsakOptionsOverUDPGets200() async throws {
        let sipsak = try requireTool("sipsak")
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        let result = try await runTool(sipsak, ["-vv", "-s", "sip:ping@127.0.0.1:\(node.udpPort)"], timeout: .seconds(20))
        #expect(result.status == 0, "sipsak output:\n\(result.output)")
        #expect(result.output.contains("SIP/2.0 200 OK"))
        #expect(result.output.contains("Server: smf/0.1.0"))
        #expect(result.output.contains("final received"))
    }

    @Test func sipsakOptionsOverTCPGets200() async throws {
        let sipsak = try requireTool("sipsak")
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        let result = try await runTool(sipsak, ["-vv", "-E", "tcp", "-s", "sip:ping@127.0.0.1:\(node.tcpPort)"], timeout: .seconds(20))
        #expect(result.status == 0, "sipsak output:\n\(result.output)")
        #expect(result.output.contains("SIP/2.0 200 OK"))
        #expect(result.output.contains("final received"))
    }

    @Test(arguments: [("u1", "udp"), ("t1", "tcp")])
    func sippSends500OptionsAt200PerSecondWithoutFailures(mode: String, transport: String) async throws {
        let sipp = try requireTool("sipp")
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        let port = transport == "udp" ? node.udpPort : node.tcpPort
        let run = try await runSipp(sipp, scenario: "options.xml", target: "127.0.0.1:\(port)", mode: mode, calls: 500, rate: 200)
        #expect(run.result.status == 0, "sipp exit \(run.result.status); output:\n\(run.result.output.suffix(3000))")
        #expect(run.stats.successfulCalls == 500)
        #expect(run.stats.failedCalls == 0)
        #expect(run.stats.unexpectedMessages == 0)
        print("sipp \(transport): \(run.stats.successfulCalls) OPTIONS ok, \(run.stats.failedCalls) failed, \(run.stats.unexpectedMessages) unexpected in \(run.elapsed)")
        #expect(node.process.isRunning)
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func signalStopsTheNodeCleanlyWithExitZero(signal: Int32) async throws {
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        #expect(node.readyLine.hasPrefix("smf ready: udp:127.0.0.1:"))
        #expect(node.readyLine.hasSuffix("data=\(node.dataDirectory.path)"))
        #expect(FileManager.default.fileExists(atPath: node.dataDirectory.path))
        let outcome = try #require(try await node.stop(with: signal, timeout: .seconds(15)), "smf did not exit within 15 s after signal \(signal)")
        #expect(outcome.reason == .exit)
        #expect(outcome.status == 0, "stderr:\n\(node.standardError)")
        #expect(node.standardOutput.split(separator: "\n").count == 1)  // exactly one ready line on stdout
    }

    @Test func optionsCommandPrintsTheResponseAndExitsZero() async throws {
        let node = try await SMFProcess()
        defer { node.cleanUp() }
        for transport in ["udp", "tcp"] {
            let port = transport == "udp" ? node.udpPort : node.tcpPort
            let result = try await runTool(smfBinary(), ["options", "sip:ping@127.0.0.1:\(port)", "--transport", transport, "--timeout", "10"], timeout: .seconds(20))
            #expect(result.status == 0, "output:\n\(result.output)")
            #expect(result.output.hasPrefix("SIP/2.0 200 OK\n"))
            #expect(result.output.contains("Allow: OPTIONS"))
            #expect(result.output.contains("Via: SIP/2.0/\(transport.uppercased()) "))
        }
    }

    @Test func optionsCommandExitsOneWhenNobodyAnswers() async throws {
        let silent = try await UDPPeer()
        defer { silent.close() }
        let result = try await runTool(smfBinary(), ["options", "sip:ping@127.0.0.1:\(silent.port)", "--timeout", "1"], timeout: .seconds(20))
        #expect(result.status == 1)
        #expect(result.output.contains("no final response"))
    }

    @Test func badCommandLineInputIsRejectedWithAClearMessage() async throws {
        let badListen = try await runTool(smfBinary(), ["run", "--data", "/tmp/unused", "--listen", "udp:localhost:5060"], timeout: .seconds(10))
        #expect(badListen.status != 0)
        #expect(badListen.output.contains("not a literal IPv4 or IPv6 address"))
        let badURI = try await runTool(smfBinary(), ["options", "mailto:someone"], timeout: .seconds(10))
        #expect(badURI.status != 0)
        #expect(badURI.output.contains("is not a sip: or sips: URI"))
        let version = try await runTool(smfBinary(), ["--version"], timeout: .seconds(10))
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test func demoExchangesOptionsOverUDPAndTCPAndExitsZero() async throws {
        let result = try await runTool(smfBinary(), ["demo", "options"], timeout: .seconds(60))
        #expect(result.status == 0, "output:\n\(result.output)")
        #expect(result.output.components(separatedBy: "<- UDP SIP/2.0 200 OK").count == 3)
        #expect(result.output.components(separatedBy: "<- TCP SIP/2.0 200 OK").count == 3)
        #expect(result.output.contains("demo ok"))
    }
}
