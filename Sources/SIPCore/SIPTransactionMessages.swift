import SIPSyntax

/// Messages the transaction layer builds itself rather than receiving from the TU.
enum SIPTransactionMessages {
    /// The ACK for a 300–699 final response to `invite` (RFC 3261 §17.1.1.3).
    ///
    /// Request-URI, Call-ID, From, the top Via only (same branch), the CSeq number with method ACK
    /// and the Route headers are taken from the INVITE; To is the To of the response (with its tag).
    /// A header missing from the INVITE is left out rather than invented.
    static func ack(for invite: SIPRequest, acknowledging response: SIPResponse) -> SIPRequest {
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
    static func trying(for request: SIPRequest) -> SIPResponse {
        var headers = SIPHeaders()
        for name in ["Via", "From", "To", "Call-ID", "CSeq", "Timestamp"] {
            for value in request.headers.values(name) {
                headers.add(name: name, value: value)
            }
        }
        return SIPResponse(statusCode: 100, reasonPhrase: "Trying", headers: headers)
    }
}
