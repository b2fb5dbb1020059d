public import NIOCore
public import Overlay
public import SIPSyntax
public import SIPTransport

/// How overlay messages travel in SIP (SOSIMPLE / dSIP style, see docs/overlay.md "Carriage in SIP").
///
/// Every ``OverlayEnvelope`` is a REGISTER to `sip:<node-id-hex>@host:port` with `Overlay-Message`
/// naming the message type, `Overlay-Node` the sender's Node-ID in hex, and the ``OverlayCodec`` bytes
/// as an `application/smf-overlay` body. The answer to a request rides in the final response body:
/// `200` for an answer, `302` with one `Contact` per closer peer for a redirecting find answer,
/// `200` without body when the message has no answer, `400` with the problem in the reason phrase for
/// a malformed request (RFC 3261 §21.4.1).
public enum OverlaySIPCarriage {
    /// The body type of overlay messages.
    public static let contentType = "application/smf-overlay"
    /// The header naming the message type.
    public static let messageHeader = "Overlay-Message"
    /// The header carrying the sender's Node-ID in hexadecimal.
    public static let nodeHeader = "Overlay-Node"
    /// The header naming the ring a message belongs to, when a transport carries several rings; absent for the
    /// node's default ring.
    public static let ringHeader = "Overlay-Ring"
    /// The SIP method carrying overlay messages.
    public static let method = SIPMethod.register

    /// The wire name of a message type (the `Overlay-Message` value).
    public static func typeName(of message: OverlayMessage) -> String {
        switch message {
        case .findRequest: "find"
        case .findResponse: "find-response"
        case .stabilizeRequest: "stabilize"
        case .stabilizeResponse: "stabilize-response"
        case .notify: "notify"
        case .ping: "ping"
        case .pong: "pong"
        case .joinRequest: "join"
        case .joinResponse: "join-response"
        case .store: "store"
        case .storeResponse: "store-response"
        case .fetch: "fetch"
        case .fetchResponse: "fetch-response"
        case .leaving: "leaving"
        }
    }

    /// Whether the message answers an earlier request (and so may ride in a SIP response body).
    public static func isAnswer(_ message: OverlayMessage) -> Bool {
        switch message {
        case .findResponse, .stabilizeResponse, .pong, .joinResponse, .storeResponse, .fetchResponse: true
        case .findRequest, .stabilizeRequest, .notify, .ping, .joinRequest, .store, .fetch, .leaving: false
        }
    }

    /// Where an overlay address points: `host:port`, `[v6]:port`, `udp:host:port`, `tcp:host:port`
    /// or a SIP URI `sip:[user@]host[:port]` (port 5060 when absent, RFC 3261 §19.1.2).
    public static func destination(of address: OverlayAddress) throws(OverlaySIPError) -> SIPDestination {
        let text = address.value
        if text.lowercased().hasPrefix("sip:") {
            guard let uri = SIPURI(text), !uri.host.isEmpty else {
                throw OverlaySIPError(.badAddress, "'\(text)' is not a SIP URI")
            }
            let transportName = (uri.parameters["transport"] ?? nil)?.lowercased()
            let transport: SIPTransportProtocol = transportName == "tcp" ? .tcp : .udp
            return SIPDestination(transport: transport, host: uri.hostWithoutBrackets, port: uri.port ?? 5060)
        }
        let lowered = text.lowercased()
        let qualified = lowered.hasPrefix("udp:") || lowered.hasPrefix("tcp:") ? text : "udp:" + text
        do {
            return try SIPDestination(parsing: qualified)
        } catch {
            throw OverlaySIPError(.badAddress, "'\(text)' is not host:port: \(error.problem)")
        }
    }

    /// The SIP request carrying `envelope` to `destination`, addressed to `recipient` when its Node-ID is known.
    /// - Parameter ring: the ring's name for ``ringHeader``; nil for the default ring (no header).
    public static func request(
        carrying envelope: OverlayEnvelope,
        to destination: SIPDestination,
        recipient: NodeID?,
        callID: String,
        fromTag: String,
        ring: String? = nil
    ) -> SIPRequest {
        let host = destination.host.contains(":") ? "[\(destination.host)]" : destination.host
        let uri = SIPURI(user: recipient?.description ?? "overlay", host: host, port: destination.port)
        let sender = SIPURI(user: envelope.sender.id.description, host: host, port: destination.port)
        var headers = SIPHeaders()
        headers.to = SIPNameAddress(uri: uri)
        headers.from = SIPNameAddress(uri: sender, parameters: [("tag", fromTag)])
        headers.callID = callID
        headers.cseq = SIPCSeq(sequence: 1, method: method)
        headers.add(name: messageHeader, value: typeName(of: envelope.message))
        headers.add(name: nodeHeader, value: envelope.sender.id.description)
        if let ring { headers.add(name: ringHeader, value: ring) }
        headers.add(name: "Content-Type", value: contentType)
        let bytes = OverlayCodec.encode(envelope)
        return SIPRequest(method: method, uri: uri, headers: headers, body: ByteBuffer(bytes: bytes))
    }

    /// The ring a request names in ``ringHeader`` (trimmed), or nil for the default ring.
    public static func ring(of request: SIPRequest) -> String? {
        request.headers[ringHeader]?.trimmedOfBlanks()
    }

    /// Decodes and checks the overlay envelope a request carries.
    /// - Throws: ``OverlaySIPError`` with code `malformedRequest` naming the problem.
    public static func envelope(in request: SIPRequest) throws(OverlaySIPError) -> OverlayEnvelope {
        guard let type = request.headers[messageHeader] else {
            throw OverlaySIPError(.malformedRequest, "Missing \(messageHeader) Header")
        }
        guard let bodyType = request.headers.contentType?.split(separator: ";").first, String(bodyType).trimmedOfBlanks().lowercased() == contentType else {
            throw OverlaySIPError(.malformedRequest, "Content-Type Is Not \(contentType)")
        }
        let envelope = try decodeBody(request.body)
        guard typeName(of: envelope.message) == type.trimmedOfBlanks() else {
            throw OverlaySIPError(.malformedRequest, "\(messageHeader) Does Not Match Body")
        }
        guard request.headers[nodeHeader]?.trimmedOfBlanks().lowercased() == envelope.sender.id.description else {
            throw OverlaySIPError(.malformedRequest, "\(nodeHeader) Does Not Match Sender")
        }
        return envelope
    }

    /// Decodes an `application/smf-overlay` body.
    public static func decodeBody(_ body: ByteBuffer) throws(OverlaySIPError) -> OverlayEnvelope {
        guard body.readableBytes > 0 else { throw OverlaySIPError(.malformedRequest, "Empty Overlay Body") }
        do {
            return try OverlayCodec.decode(Array(body.readableBytesView))
        } catch {
            throw OverlaySIPError(.malformedRequest, "Undecodable Overlay Body (\(error.code))")
        }
    }

    /// The final response carrying `answer` (or none) to `request`: 302 with Contacts for a redirect, else 200.
    public static func response(to request: SIPRequest, answer: OverlayEnvelope?) -> SIPResponse {
        guard let answer else { return .answering(request, statusCode: 200) }
        var response: SIPResponse
        if case .findResponse(_, .closer(let peers), _) = answer.message {
            response = .answering(request, statusCode: 302)
            for peer in peers {
                if let target = try? destination(of: peer.address) {
                    let host = target.host.contains(":") ? "[\(target.host)]" : target.host
                    response.headers.add(name: "Contact", value: "<sip:\(peer.id.description)@\(host):\(target.port)>")
                }
            }
        } else {
            response = .answering(request, statusCode: 200)
        }
        response.headers.add(name: messageHeader, value: typeName(of: answer.message))
        response.headers.add(name: nodeHeader, value: answer.sender.id.description)
        response.headers.add(name: "Content-Type", value: contentType)
        response.body = ByteBuffer(bytes: OverlayCodec.encode(answer))
        return response
    }

    /// A 400 whose reason phrase names the problem (RFC 3261 §21.4.1).
    public static func rejection(of request: SIPRequest, _ error: OverlaySIPError) -> SIPResponse {
        .answering(request, statusCode: 400, reasonPhrase: error.detail)
    }
}

/// A failure of the SIP carriage or of an ``OverlayNode`` call.
public struct OverlaySIPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Hashable, Sendable {
        /// An overlay address is neither host:port nor a SIP URI.
        case badAddress
        /// A received overlay request is malformed.
        case malformedRequest
        /// The overlay answered with an error.
        case overlay(OverlayError.Code)
        /// No bootstrap admitted the node in time.
        case joinFailed
        /// The node is not part of a ring.
        case notJoined
        /// The node was stopped.
        case stopped
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, in words.
    public let detail: String

    /// Creates an error.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "overlay SIP \(code): \(detail)" }
}

extension String {
    func trimmedOfBlanks() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
