public import SIPSyntax

/// Requests and responses whose content RFC 3261 ties to a transaction: the ACK for a non-2xx
/// final (§17.1.1.3), the 100 (Trying) of an INVITE server transaction (§17.2.1) and the CANCEL
/// of a pending INVITE (§9.1). The transactions build the first two themselves.
public enum SIPTransactionMessages {
    /// The ACK for a 300–699 final response to `invite` (RFC 3261 §17.1.1.3).
    ///
    /// Request-URI, Call-ID, From, the top Via only (same branch), the CSeq number with method ACK
    /// and the Route headers are taken from the INVITE; To is the To of the response (with its tag).
    /// A header missing from the INVITE is left out rather than invented.
    public static func ack(for invite: SIPRequest, acknowledging response: SIPResponse) -> SIPRequest {
        var headers = SIPHeaders()
        if let via = invite.headers.topVia {
            headers.add(name: "Via", value: via.description)
        }
        for route in invite.headers.values("Route") {
            headers.add(name: "Route", value: route)
        }
        headers.add(name: "Max-Forwards", value: invite.headers["Max-Forwards"] ?? "70")
        if let from = invite.headers["From"] {
            headers.add(name: "From", value: from)
        }
        if let to = response.headers["To"] ?? invite.headers["To"] {
            headers.add(name: "To", value: to)
        }
        if let callID = invite.headers["Call-ID"] {
            headers.add(name: "Call-ID", value: callID)
        }
        if let cseq = invite.headers.cseq {
            headers.add(name: "CSeq", value: "\(cseq.sequence) ACK")
        }
        return SIPRequest(method: .ack, uri: invite.uri, headers: headers)
    }

    /// A 100 (Trying) answering `request` (RFC 3261 §8.2.6.1, §17.2.1).
    ///
    /// Via, From, To (no tag is added to a 100), Call-ID, CSeq and Timestamp are copied.
    public static func trying(for request: SIPRequest) -> SIPResponse {
        var headers = SIPHeaders()
        for name in ["Via", "From", "To", "Call-ID", "CSeq", "Timestamp"] {
            for value in request.headers.values(name) {
                headers.add(name: name, value: value)
            }
        }
        return SIPResponse(statusCode: 100, reasonPhrase: "Trying", headers: headers)
    }

    /// The CANCEL for a pending `invite` (RFC 3261 §9.1).
    ///
    /// Request-URI, Call-ID, To, From, the CSeq number (method CANCEL), the top Via only (same
    /// branch, so it matches the INVITE's server transaction, §9.2) and the Route headers are
    /// those of the INVITE. Send it through its own client transaction
    /// (``SIPTransactionLayer/tuSentRequest(_:reliability:)``), and only after a provisional
    /// response arrived (§9.1).
    public static func cancel(for invite: SIPRequest) -> SIPRequest {
        var headers = SIPHeaders()
        if let via = invite.headers.topVia {
            headers.add(name: "Via", value: via.description)
        }
        for route in invite.headers.values("Route") {
            headers.add(name: "Route", value: route)
        }
        headers.add(name: "Max-Forwards", value: invite.headers["Max-Forwards"] ?? "70")
        for name in ["From", "To", "Call-ID"] {
            if let value = invite.headers[name] { headers.add(name: name, value: value) }
        }
        if let cseq = invite.headers.cseq {
            headers.add(name: "CSeq", value: "\(cseq.sequence) CANCEL")
        }
        return SIPRequest(method: .cancel, uri: invite.uri, headers: headers)
    }
}
