import ArgumentParser
import Foundation
import Logging
import NIOCore
import SIPSyntax
import SIPTransport
import SMFNode

/// `smf options URI`: one OPTIONS request (RFC 3261 §11), printing the final response.
struct OptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "options",
        abstract: "Send one OPTIONS request and print the response status line and headers.",
        discussion: "Exits 0 when the final response is 2xx, 1 otherwise (including a timeout)."
    )

    @Argument(help: ArgumentHelp("Target SIP URI, e.g. sip:ping@127.0.0.1:5060.", valueName: "uri"))
    var uri: String

    @Option(name: .long, help: "Transport: udp or tcp (default: the URI's transport parameter, else udp).")
    var transport: String?

    @Option(name: .long, help: "Seconds to wait for a final response.")
    var timeout: Double = 32

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try target()
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds, not \(timeout)") }
    }

    /// The parsed URI and where to send it (RFC 3263 reduced to IP literals and system resolution).
    private func target() throws -> (SIPURI, SIPDestination) {
        guard let parsed = SIPURI(uri), parsed.isSIP, !parsed.host.isEmpty else {
            throw ValidationError("'\(uri)' is not a sip: or sips: URI with a host, e.g. sip:ping@127.0.0.1:5060")
        }
        let transportName = transport ?? parsed.transport ?? "udp"
        guard let protocolName = SIPTransportProtocol(token: transportName) else {
            throw ValidationError("unknown transport '\(transportName)'; use udp or tcp")
        }
        return (parsed, SIPDestination(transport: protocolName, host: parsed.hostWithoutBrackets, port: parsed.port ?? 5060))
    }

    func run() async throws {
        let logger = logging.makeLogger(label: "smf.options")
        let (targetURI, destination) = try target()
        let isV6 = destination.host.contains(":")
        let isLoopback = destination.host == "::1" || destination.host.hasPrefix("127.") || destination.host == "localhost"
        let localHost = isV6 ? (isLoopback ? "::1" : "::") : (isLoopback ? "127.0.0.1" : "0.0.0.0")
        var configuration = SIPTransportConfiguration()
        configuration.listeners = [SIPListenAddress(transport: .udp, host: localHost, port: 0)]
        configuration.userAgent = SMFVersion.productToken
        let client = SIPTransport(configuration: configuration, handler: SIPUserAgentCore(), logger: logger)
        try await client.bind()

        let request = OptionsCommand.makeOptions(to: targetURI, fromHost: localHost.contains(":") ? "[\(localHost)]" : localHost)
        let timeoutSeconds = timeout
        let outcome: Result<SIPResponse, SIPTransportError> = await withTaskGroup(of: Result<SIPResponse, SIPTransportError>?.self) { group in
            group.addTask {
                do throws(SIPTransportError) { return .success(try await client.send(request, to: destination)) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(timeoutSeconds * 1000)))
                return Task.isCancelled ? nil : .failure(.timeout)
            }
            var first: Result<SIPResponse, SIPTransportError>? = nil
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .failure(.timeout)
        }
        await client.close()
        switch outcome {
        case .success(let response):
            print("SIP/2.0 \(response.statusCode) \(response.reasonPhrase)")
            for field in response.headers { print("\(field.name): \(field.value)") }
            if !(200..<300).contains(response.statusCode) { throw ExitCode(1) }
        case .failure(let error):
            FileHandle.standardError.write(Data("smf options: \(destination): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// An OPTIONS request per RFC 3261 §11.1 (Via, Max-Forwards and User-Agent are added by the transport).
    static func makeOptions(to uri: SIPURI, fromHost: String) -> SIPRequest {
        let tag = SIPUserAgentCore.randomTag()
        let callID = "\(SIPUserAgentCore.randomTag())\(SIPUserAgentCore.randomTag())@smf"
        return SIPRequest(
            method: .options,
            uri: uri,
            headers: SIPHeaders([
                ("From", "<sip:smf@\(fromHost)>;tag=\(tag)"),
                ("To", "<\(uri.description)>"),
                ("Call-ID", callID),
                ("CSeq", "1 OPTIONS"),
                ("Accept", "application/sdp, application/pidf+xml, text/plain"),
            ])
        )
    }
}
