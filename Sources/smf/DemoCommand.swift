import ArgumentParser
import Foundation
import Logging
import SIPSyntax
import SIPTransport
import SMFNode

/// `smf demo`: the demonstrations. Without a subcommand, building surveillance (`smf demo surveillance`, what
/// `make demo` runs).
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Demonstrations: building surveillance on 9+ nodes (the default), OPTIONS between two nodes, an energy community's day.",
        subcommands: [SurveillanceDemoCommand.self, OptionsDemoCommand.self, EnergyDemoCommand.self],
        defaultSubcommand: SurveillanceDemoCommand.self
    )
}

/// `smf demo options`: two nodes in this process exchange OPTIONS over UDP and TCP and report what happened.
///
/// The nodes run in-process (on ephemeral loopback ports with temporary data directories) so the demo
/// needs nothing but the binary; each has its own transport, transaction layer and UA core.
struct OptionsDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "options",
        abstract: "Start two nodes that exchange OPTIONS over UDP and TCP, print the exchange, and exit."
    )

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        var logger = logging.makeLogger(label: "smf.demo")
        if logging.logLevel == "info" { logger.logLevel = .warning }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("smf-demo-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: base) }

        let listeners = [
            SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 0),
            SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 0),
        ]
        let alice = SMFNode(configuration: NodeConfiguration(listeners: listeners, dataDirectory: base.appendingPathComponent("alice").path, user: "alice"), logger: logger)
        let bob = SMFNode(configuration: NodeConfiguration(listeners: listeners, dataDirectory: base.appendingPathComponent("bob").path, user: "bob"), logger: logger)
        let aliceAddresses = try await alice.start()
        let bobAddresses = try await bob.start()
        print("node alice: \(aliceAddresses.map(\.description).joined(separator: " "))")
        print("node bob:   \(bobAddresses.map(\.description).joined(separator: " "))")

        var failures = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await alice.run() }
            group.addTask { try await bob.run() }
            let exchanges: [(String, SMFNode, SMFNode, SIPTransportProtocol)] = [
                ("alice", alice, bob, .udp), ("bob", bob, alice, .udp),
                ("alice", alice, bob, .tcp), ("bob", bob, alice, .tcp),
            ]
            for (name, from, to, transport) in exchanges {
                let ok = await Self.exchange(from: from, named: name, to: to, over: transport)
                if !ok { failures += 1 }
            }
            await alice.shutdown()
            await bob.shutdown()
            try await group.waitForAll()
        }
        if failures > 0 {
            print("demo failed: \(failures) exchange(s) without 200 OK")
            throw ExitCode(1)
        }
        print("demo ok: 4 OPTIONS exchanges answered 200 OK")
    }

    /// Sends one OPTIONS from `from` to `to` and prints the request and response lines with the time taken.
    private static func exchange(from: SMFNode, named name: String, to: SMFNode, over transport: SIPTransportProtocol) async -> Bool {
        guard let target = await to.contactURI(transport: transport), let uri = SIPURI(target),
            let fromAddress = await from.transport.boundAddresses.first(where: { $0.transport == .udp })
        else {
            print("\(name): no \(transport) listener to send to")
            return false
        }
        let request = OptionsCommand.makeOptions(to: uri, fromHost: fromAddress.hostForURI)
        let destination = SIPDestination(transport: transport, host: uri.hostWithoutBrackets, port: uri.port ?? 5060)
        print("\(name) -> \(transport.viaToken) OPTIONS \(uri)")
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let response = try await from.transport.send(request, to: destination)
            let elapsed = clock.now - start
            let server = response.headers["Server"] ?? "-"
            print("\(name) <- \(transport.viaToken) SIP/2.0 \(response.statusCode) \(response.reasonPhrase) (Server: \(server), Allow: \(response.headers["Allow"] ?? "-")) in \(Self.format(elapsed))")
            return response.statusCode == 200
        } catch {
            print("\(name) <- \(transport.viaToken) failed: \(error)")
            return false
        }
    }

    private static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return String(format: "%.2f ms", milliseconds)
    }
}
