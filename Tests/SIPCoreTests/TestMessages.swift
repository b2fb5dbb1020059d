import SIPCore
import SIPSyntax

/// Builders for the messages of the transcripts, shaped like RFC 3261 §24 examples.
enum TestMessages {
    static let bob = SIPURI(user: "bob", host: "biloxi.example.com")

    /// A request as a UAC (or, with `extraVias`, a proxy) would send it.
    static func request(
        _ method: SIPMethod,
        branch: String = "z9hG4bK776asdhds",
        sentBy: String = "pc33.atlanta.example.com",
        cseq: UInt32 = 314_159,
        cseqMethod: SIPMethod? = nil,
        fromTag: String = "1928301774",
        toTag: String? = nil,
        callID: String = "a84b4c76e66710@pc33.atlanta.example.com",
        uri: SIPURI = bob,
        extraVias: [String] = [],
        routes: [String] = []
    ) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Via", value: "SIP/2.0/UDP \(sentBy);branch=\(branch)")
        for via in extraVias { headers.add(name: "Via", value: via) }
        for route in routes { headers.add(name: "Route", value: route) }
        headers.add(name: "Max-Forwards", value: "70")
        headers.add(name: "To", value: "Bob <sip:bob@biloxi.example.com>" + (toTag.map { ";tag=\($0)" } ?? ""))
        headers.add(name: "From", value: "Alice <sip:alice@atlanta.example.com>;tag=\(fromTag)")
        headers.add(name: "Call-ID", value: callID)
        headers.add(name: "CSeq", value: "\(cseq) \((cseqMethod ?? method).rawValue)")
        headers.add(name: "Contact", value: "<sip:alice@pc33.atlanta.example.com>")
        return SIPRequest(method: method, uri: uri, headers: headers)
    }

    /// A response to `request` as a UAS builds it (§8.2.6): Via, From, To (+ tag), Call-ID, CSeq.
    static func response(_ statusCode: Int, to request: SIPRequest, toTag: String? = "a6c85cf") -> SIPResponse {
        var headers = SIPHeaders()
        for via in request.headers.values("Via") { headers.add(name: "Via", value: via) }
        let to = request.headers["To"] ?? ""
        let tagged = (statusCode == 100 || toTag == nil || to.contains(";tag=")) ? to : to + ";tag=\(toTag ?? "")"
        headers.add(name: "To", value: tagged)
        for name in ["From", "Call-ID", "CSeq"] {
            for value in request.headers.values(name) { headers.add(name: name, value: value) }
        }
        return SIPResponse(statusCode: statusCode, headers: headers)
    }
}
