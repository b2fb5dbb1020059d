public import SIPSyntax

/// Pager-mode instant messages, RFC 3428.
public enum SIPPagerMessage {
    /// A MESSAGE outside any dialog (RFC 3428 §4): To, From with tag, Call-ID, CSeq,
    /// Max-Forwards, Content-Type and the body; no Contact (§4). Add a top Via before sending.
    public static func make(
        to recipient: SIPURI, from sender: SIPURI, body: SIPEventBody, using generator: inout some RandomNumberGenerator,
        cseq: UInt32 = 1
    ) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Max-Forwards", value: "70")
        headers.to = SIPNameAddress(uri: recipient)
        headers.from = SIPNameAddress(uri: sender, parameters: [("tag", SIPEventMessages.token(using: &generator))])
        headers.callID = SIPEventMessages.token(length: 20, using: &generator)
        headers.cseq = SIPCSeq(sequence: cseq, method: .message)
        var request = SIPRequest(method: .message, uri: recipient, headers: headers)
        request.eventBody = body
        return request
    }

    /// The verdict on a received MESSAGE.
    public enum Validation: Hashable, Sendable {
        /// Deliver `body` to the user and answer with `response` (200 OK, RFC 3428 §7).
        case accept(SIPEventBody, response: SIPResponse)
        /// Answer with `response` and deliver nothing.
        case reject(SIPResponse)
    }

    /// Checks a received MESSAGE (RFC 3428 §7): 413 when the body exceeds `maximumBodySize`
    /// (1300 bytes keeps a MESSAGE within one UDP datagram, §6 — pass more for TCP), 415 with
    /// `Accept` when its type is not accepted, 400 without body; 200 otherwise.
    public static func validate(_ request: SIPRequest, accepting accepted: [String], maximumBodySize: Int = 1300) -> Validation {
        guard let body = request.eventBody else {
            var response = SIPEventMessages.response(400, to: request, toTag: nil)
            response.reasonPhrase = "MESSAGE Without Body"
            return .reject(response)
        }
        if body.bytes.count > maximumBodySize {
            return .reject(SIPEventMessages.response(413, to: request))
        }
        guard SIPEventBody.isAccepted(body.contentType, by: accepted) else {
            var response = SIPEventMessages.response(415, to: request)
            response.headers.add(name: "Accept", value: accepted.joined(separator: ", "))
            return .reject(response)
        }
        return .accept(body, response: SIPEventMessages.response(200, to: request))
    }
}

/// What became of a MESSAGE we sent (RFC 3428 §4): a 2xx means the recipient's UA (or a store)
/// took it, not that a person read it.
public enum SIPMessageDeliveryResult: Hashable, Sendable {
    /// 2xx.
    case delivered(statusCode: Int)
    /// 3xx–6xx, with the reason phrase.
    case rejected(statusCode: Int, reason: String)
    /// No final response (Timer F) or the transport failed.
    case timedOut

    /// The result a final response means; `nil` for 1xx.
    public init?(response: SIPResponse) {
        switch response.statusCode {
        case ..<200: return nil
        case 200..<300: self = .delivered(statusCode: response.statusCode)
        default: self = .rejected(statusCode: response.statusCode, reason: response.reasonPhrase)
        }
    }

    public var isDelivered: Bool {
        if case .delivered = self { true } else { false }
    }
}
