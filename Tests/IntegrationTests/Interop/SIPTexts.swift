import Foundation

/// Hand-written SIP requests and responses for scripted UDP peers in the interop tests: exactly the
/// bytes another implementation would send, independent of smf's own message model.
enum SIPText {
    /// A PIDF document (RFC 3863 §4) with one tuple: `basic` is `open` or `closed`.
    static func pidf(entity: String, basic: String, note: String? = nil) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
            + "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"\(entity)\">\r\n"
            + "<tuple id=\"t1\"><status><basic>\(basic)</basic></status></tuple>\r\n"
            + (note.map { "<note>\($0)</note>\r\n" } ?? "")
            + "</presence>\r\n"
    }

    /// A PUBLISH (RFC 3903 §4) of `body` for `aor`, sent from a UDP socket on `localPort`.
    /// With `ifMatch` (an earlier SIP-ETag) it modifies that publication instead (RFC 3903 §4.4).
    static func publish(aor: String, requestURI: String, localPort: Int, body: String, ifMatch: String? = nil, event: String = "presence", expires: Int = 60, contentType: String = "application/pidf+xml") -> String {
        request(
            "PUBLISH", requestURI, localPort: localPort, from: aor, to: aor, cseq: 1,
            extra: "Event: \(event)\r\nExpires: \(expires)\r\n" + (ifMatch.map { "SIP-If-Match: \($0)\r\n" } ?? "") + "Content-Type: \(contentType)\r\n",
            body: body
        )
    }

    /// An initial SUBSCRIBE (RFC 6665 §4.1.2.1) from `watcher` to `target`; NOTIFYs come to `localPort`.
    static func subscribe(watcher: String, target: String, requestURI: String, localPort: Int, event: String = "presence", expires: Int = 60, accept: String = "application/pidf+xml") -> String {
        request(
            "SUBSCRIBE", requestURI, localPort: localPort, from: watcher, to: target, cseq: 1,
            extra: "Contact: <sip:watcher@127.0.0.1:\(localPort)>\r\nEvent: \(event)\r\nExpires: \(expires)\r\nAccept: \(accept)\r\n", body: ""
        )
    }

    /// A pager-mode MESSAGE (RFC 3428 §4) with a text/plain body.
    static func message(from: String, to: String, requestURI: String, localPort: Int, text: String) -> String {
        request("MESSAGE", requestURI, localPort: localPort, from: from, to: to, cseq: 1, extra: "Content-Type: text/plain\r\n", body: text)
    }

    /// A 200 OK to `request`, copying Via, From, To (adding a tag if it has none), Call-ID and CSeq (RFC 3261 §8.2.6.2).
    static func ok(to request: String, toTag: String = "uas1") -> String {
        let head = request.components(separatedBy: "\r\n\r\n").first ?? request
        var lines = ["SIP/2.0 200 OK"]
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            let name = line.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            switch name {
            case "via", "v", "from", "f", "call-id", "i", "cseq": lines.append(line)
            case "to", "t": lines.append(line.contains(";tag=") ? line : line + ";tag=\(toTag)")
            default: continue
            }
        }
        return lines.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
    }

    /// The body of a message text (after the first blank line).
    static func body(of text: String) -> String {
        guard let range = text.range(of: "\r\n\r\n") else { return "" }
        return String(text[range.upperBound...])
    }

    private static func request(_ method: String, _ requestURI: String, localPort: Int, from: String, to: String, cseq: Int, extra: String, body: String) -> String {
        let token = UUID().uuidString.prefix(12).lowercased()
        return "\(method) \(requestURI) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(localPort);branch=z9hG4bK\(token);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "From: <\(from)>;tag=\(token.prefix(6))\r\n"
            + "To: <\(to)>\r\n"
            + "Call-ID: \(token)@interop\r\n"
            + "CSeq: \(cseq) \(method)\r\n"
            + extra
            + "Content-Length: \(body.utf8.count)\r\n\r\n"
            + body
    }
}

extension UDPPeer {
    /// Receives datagrams until `count` of them satisfy `predicate` (others are dropped); throws when they have not
    /// all arrived within the peer's `timeout`.
    func receive(_ what: String, count: Int = 1, where predicate: (String) -> Bool) async throws -> [String] {
        var matched: [String] = []
        var seen: [String] = []
        let deadline = ContinuousClock.now + timeout
        while matched.count < count {
            guard let (text, _) = await receive(before: deadline) else {
                throw ProcessTestError(description: "no \(what) within \(timeout); received instead:\n\(seen.joined(separator: "\n----\n"))")
            }
            if predicate(text) { matched.append(text) } else { seen.append(text) }
        }
        return matched
    }

    /// Receives the next request `method` (skipping anything else), answers it 200 OK, and returns it.
    func receiveAndAccept(_ method: String, from port: Int) async throws -> String {
        let request = try await receive("a \(method) request") { $0.hasPrefix("\(method) ") }[0]
        try await send(SIPText.ok(to: request), to: port)
        return request
    }

    /// Answers every NOTIFY with 200 OK until one satisfies `predicate` and returns it; earlier ones
    /// (retransmissions, or state sent before the change under test) are only acknowledged.
    func acceptNotifies(from port: Int, until what: String, where predicate: (String) -> Bool) async throws -> String {
        var earlier: [String] = []
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let (text, _) = await receive(before: deadline) else {
                throw ProcessTestError(description: "no NOTIFY with \(what) within \(timeout); NOTIFYs before:\n\(earlier.joined(separator: "\n----\n"))")
            }
            guard text.hasPrefix("NOTIFY ") else { continue }
            try await send(SIPText.ok(to: text), to: port)
            if predicate(text) { return text }
            earlier.append(text)
        }
    }

    /// Receives the final response to `method` (skipping 1xx and unrelated datagrams).
    func receiveFinalResponse(to method: String) async throws -> String {
        try await receive("a final response to \(method)") { text in
            text.hasPrefix("SIP/2.0 ") && !text.hasPrefix("SIP/2.0 1") && (headerValue("CSeq", in: text)?.hasSuffix(method) ?? false)
        }[0]
    }
}
