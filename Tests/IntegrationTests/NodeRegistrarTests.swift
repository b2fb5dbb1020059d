import Foundation
import NIOCore
import Testing

/// `smf run --registrar URI` against a scripted registrar/presence server on a UDP socket: what the node sends
/// (RFC 3261 §10.2 REGISTER, RFC 3903 PUBLISH) and how it reacts to the answers.
@Suite(.serialized, .timeLimit(.minutes(2))) struct NodeRegistrarTests {
    @Test func nodeRegistersRetriesWithMinExpiresAndPublishesEachPresenceChange() async throws {
        let registrar = try await UDPPeer(timeout: .seconds(60))
        defer { registrar.close() }
        let port = try FreePorts.reserve()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("smf-reg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let node = Process()
        node.executableURL = smfBinary()
        node.arguments = [
            "run", "--data", data, "--user", "alice", "--listen", "udp:127.0.0.1:\(port)", "--listen", "tcp:127.0.0.1:\(port)",
            "--registrar", "sip:127.0.0.1:\(registrar.port)", "--register-expires", "300",
        ]
        let output = OutputBuffer()
        let pipe = Pipe()
        node.standardOutput = pipe
        node.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try node.run()
        defer {
            if node.isRunning {
                kill(node.processIdentifier, SIGKILL)
                node.waitUntilExit()
            }
        }
        let aor = "sip:alice@127.0.0.1:\(registrar.port)"

        // REGISTER (RFC 3261 §10.2): Request-URI the registrar, To/From the AoR there, Contact the node.
        let first = try await receiveRequest(from: registrar, method: "REGISTER")
        #expect(first.hasPrefix("REGISTER sip:127.0.0.1:\(registrar.port) SIP/2.0\r\n"))
        #expect(headerValue("To", in: first) == "<\(aor)>")
        #expect(headerValue("From", in: first)?.hasPrefix("<\(aor)>;tag=") == true)
        #expect(headerValue("Contact", in: first) == "<sip:alice@127.0.0.1:\(port)>")
        #expect(headerValue("Expires", in: first) == "300")
        try await registrar.send(response(to: first, status: "423 Interval Too Brief", extra: ["Min-Expires: 900"]), to: port)

        // RFC 3261 §10.2.8: the same registration again, asking for Min-Expires, next CSeq, same Call-ID.
        let second = try await receiveRequest(from: registrar, method: "REGISTER")
        #expect(headerValue("Expires", in: second) == "900")
        #expect(headerValue("Call-ID", in: second) == headerValue("Call-ID", in: first))
        #expect(headerValue("CSeq", in: second) == "2 REGISTER")
        try await registrar.send(response(to: second, status: "200 OK", extra: ["Contact: <sip:alice@127.0.0.1:\(port)>;expires=900"]), to: port)

        // Each presence change is PUBLISHed to the AoR at the registrar (RFC 3903 §4.1), then modified with
        // SIP-If-Match (§4.4).
        try await waitForControlSocket(in: data)
        let published = try await runTool(smfBinary(), ["presence", "publish", "--data", data, "--status", "open", "--note", "pump 7 running"], timeout: .seconds(20))
        #expect(published.status == 0, "output:\n\(published.output)")
        #expect(published.output == "published open for sip:alice@127.0.0.1:\(port) to 0 watchers and at sip:127.0.0.1:\(registrar.port)\n")
        let publish = try await receiveRequest(from: registrar, method: "PUBLISH")
        #expect(publish.hasPrefix("PUBLISH \(aor) SIP/2.0\r\n"))
        #expect(headerValue("Event", in: publish) == "presence")
        #expect(headerValue("Content-Type", in: publish) == "application/pidf+xml")
        #expect(publish.contains("<basic>open</basic>") && publish.contains("pump 7 running"))
        try await registrar.send(response(to: publish, status: "200 OK", extra: ["SIP-ETag: e1", "Expires: 3600"]), to: port)

        let changed = try await runTool(smfBinary(), ["presence", "publish", "--data", data, "--status", "closed"], timeout: .seconds(20))
        #expect(changed.status == 0, "output:\n\(changed.output)")
        let modify = try await receiveRequest(from: registrar, method: "PUBLISH")
        #expect(headerValue("SIP-If-Match", in: modify) == "e1")
        #expect(modify.contains("<basic>closed</basic>"))
        try await registrar.send(response(to: modify, status: "200 OK", extra: ["SIP-ETag: e2", "Expires: 3600"]), to: port)
        #expect(node.isRunning)
        #expect(output.text.contains("registered at the registrar"), "log:\n\(output.text)")

        // A clean stop removes the binding (RFC 3261 §10.2.2) before the transport closes.
        kill(node.processIdentifier, SIGTERM)
        let removal = try await receiveRequest(from: registrar, method: "REGISTER")
        #expect(headerValue("Expires", in: removal) == "0")
        #expect(headerValue("Contact", in: removal) == "<sip:alice@127.0.0.1:\(port)>")
        #expect(headerValue("Call-ID", in: removal) == headerValue("Call-ID", in: first))
        #expect(headerValue("CSeq", in: removal) == "3 REGISTER")
        try await registrar.send(response(to: removal, status: "200 OK"), to: port)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while node.isRunning, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!node.isRunning)
        #expect(node.terminationStatus == 0, "log:\n\(output.text)")
        #expect(output.text.contains("unregistered from the registrar"), "log:\n\(output.text)")
    }

    @Test func refusedRegistrationIsLoggedAndTheNodeKeepsRunning() async throws {
        let registrar = try await UDPPeer(timeout: .seconds(30))
        defer { registrar.close() }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("smf-reg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let node = Process()
        node.executableURL = smfBinary()
        node.arguments = ["run", "--data", data, "--listen", "udp:127.0.0.1:0", "--registrar", "sip:127.0.0.1:\(registrar.port)"]
        let output = OutputBuffer()
        let pipe = Pipe()
        node.standardOutput = pipe
        node.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try node.run()
        defer {
            if node.isRunning {
                kill(node.processIdentifier, SIGKILL)
                node.waitUntilExit()
            }
        }
        let (register, sender) = try await receiveRequestWithSender(from: registrar, method: "REGISTER")
        let nodePort = try #require(sender.port)
        try await registrar.send(response(to: register, status: "401 Unauthorized", extra: ["WWW-Authenticate: Digest realm=\"x\", nonce=\"n\""]), to: nodePort)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !output.text.contains("the registrar refused REGISTER"), clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(output.text.contains("the registrar refused REGISTER (smf does not authenticate yet); retrying"), "log:\n\(output.text)")
        #expect(output.text.contains("sip.status=401 Unauthorized"), "log:\n\(output.text)")
        let status = try await runTool(smfBinary(), ["status", "--data", data], timeout: .seconds(20))
        #expect(status.status == 0, "the node must keep running; output:\n\(status.output)")
    }
}

/// The next request of `method` the peer receives (other datagrams are skipped).
private func receiveRequest(from peer: UDPPeer, method: String) async throws -> String {
    try await receiveRequestWithSender(from: peer, method: method).0
}

private func receiveRequestWithSender(from peer: UDPPeer, method: String) async throws -> (String, SocketAddress) {
    let deadline = ContinuousClock.now + peer.timeout
    while let (text, sender) = await peer.receive(before: deadline) {
        if text.hasPrefix("\(method) ") { return (text, sender) }
    }
    throw ProcessTestError(description: "no \(method) arrived")
}

/// A response to `request` echoing Via, From, To (with a tag), Call-ID and CSeq (RFC 3261 §8.2.6.2).
private func response(to request: String, status: String, extra: [String] = []) -> String {
    var lines = ["SIP/2.0 \(status)"]
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        guard var value = headerValue(name, in: request) else { continue }
        if name == "To", !value.contains(";tag=") { value += ";tag=registrar" }
        lines.append("\(name): \(value)")
    }
    lines += extra
    lines.append("Content-Length: 0")
    return lines.joined(separator: "\r\n") + "\r\n\r\n"
}

/// Waits until the node's control socket exists (the node is ready for commands).
private func waitForControlSocket(in data: String) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(20)
    while !FileManager.default.fileExists(atPath: data + "/control.sock") {
        guard clock.now < deadline else { throw ProcessTestError(description: "no control.sock in \(data)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
