/// The fixed message mix the SIP figures use: typical 300–1,000-byte SUBSCRIBE, NOTIFY with a PIDF body,
/// 200 OK, REGISTER and MESSAGE, as a node sends and receives them.
enum SIPMessageMix {
    /// What each message must parse to, checked once before timing.
    struct Expectation {
        let label: String
        let bytes: [UInt8]
        /// The request method, or nil for a response.
        let method: String?
        let statusCode: Int?
        let callID: String
        let bodyLength: Int
    }

    static let messages: [Expectation] = [subscribe, notify, ok, register, message]

    /// Joins header lines with CRLF, appends Content-Length for `body`, a blank line and the body.
    private static func build(_ lines: [String], body: String = "") -> [UInt8] {
        let head = (lines + ["Content-Length: \(body.utf8.count)"]).joined(separator: "\r\n")
        return Array((head + "\r\n\r\n" + body).utf8)
    }

    static let subscribe = Expectation(
        label: "SUBSCRIBE",
        bytes: build([
            "SUBSCRIBE sip:sensor-17@plant-a.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport",
            "Max-Forwards: 70",
            "To: <sip:sensor-17@plant-a.example.com>",
            "From: \"Supervisor\" <sip:supervisor@plant-a.example.com>;tag=1928301774",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314159 SUBSCRIBE",
            "Contact: <sip:supervisor@192.0.2.10:5060;transport=udp>",
            "Event: presence",
            "Accept: application/pidf+xml",
            "Expires: 3600",
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, SUBSCRIBE, NOTIFY, MESSAGE",
            "User-Agent: smf/0.1",
        ]),
        method: "SUBSCRIBE", statusCode: nil, callID: "a84b4c76e66710@192.0.2.10", bodyLength: 0)

    private static let pidf = """
        <?xml version="1.0" encoding="UTF-8"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:sensor-17@plant-a.example.com">
          <tuple id="t8a9f2">
            <status><basic>open</basic></status>
            <contact priority="0.8">sip:sensor-17@192.0.2.17</contact>
            <note xml:lang="en">temperature 21.5 C</note>
            <timestamp>2026-11-23T05:00:00Z</timestamp>
          </tuple>
        </presence>
        """

    static let notify = Expectation(
        label: "NOTIFY",
        bytes: build(
            [
                "NOTIFY sip:supervisor@192.0.2.10:5060;transport=udp SIP/2.0",
                "Via: SIP/2.0/UDP 192.0.2.17:5060;branch=z9hG4bKnashds7",
                "Max-Forwards: 70",
                "To: \"Supervisor\" <sip:supervisor@plant-a.example.com>;tag=1928301774",
                "From: <sip:sensor-17@plant-a.example.com>;tag=a6c85cf",
                "Call-ID: a84b4c76e66710@192.0.2.10",
                "CSeq: 20 NOTIFY",
                "Contact: <sip:sensor-17@192.0.2.17:5060>",
                "Event: presence",
                "Subscription-State: active;expires=3599",
                "Content-Type: application/pidf+xml",
            ], body: pidf),
        method: "NOTIFY", statusCode: nil, callID: "a84b4c76e66710@192.0.2.10", bodyLength: pidf.utf8.count)

    static let ok = Expectation(
        label: "200 OK",
        bytes: build([
            "SIP/2.0 200 OK",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10",
            "To: <sip:sensor-17@plant-a.example.com>;tag=a6c85cf",
            "From: \"Supervisor\" <sip:supervisor@plant-a.example.com>;tag=1928301774",
            "Call-ID: a84b4c76e66710@192.0.2.10",
            "CSeq: 314159 SUBSCRIBE",
            "Contact: <sip:sensor-17@192.0.2.17:5060>",
            "Expires: 3600",
            "Server: smf/0.1",
        ]),
        method: nil, statusCode: 200, callID: "a84b4c76e66710@192.0.2.10", bodyLength: 0)

    static let register = Expectation(
        label: "REGISTER",
        bytes: build([
            "REGISTER sip:registrar.plant-a.example.com SIP/2.0",
            "Via: SIP/2.0/TCP 192.0.2.17:5060;branch=z9hG4bKnashds8",
            "Max-Forwards: 70",
            "To: <sip:sensor-17@plant-a.example.com>",
            "From: <sip:sensor-17@plant-a.example.com>;tag=456248",
            "Call-ID: 843817637684230@998sdasdh09",
            "CSeq: 1826 REGISTER",
            "Contact: <sip:sensor-17@192.0.2.17:5060;transport=tcp>;expires=7200;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"",
            "Supported: path, outbound, gruu",
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, SUBSCRIBE, NOTIFY, MESSAGE",
            "User-Agent: smf/0.1",
        ]),
        method: "REGISTER", statusCode: nil, callID: "843817637684230@998sdasdh09", bodyLength: 0)

    private static let text = "ALARM zone=3 sensor=smoke-4 level=high at 2026-11-23T05:00:03Z; evacuate hall B"

    static let message = Expectation(
        label: "MESSAGE",
        bytes: build(
            [
                "MESSAGE sip:operators@plant-a.example.com SIP/2.0",
                "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-d8754z-1f2e3d",
                "Max-Forwards: 70",
                "To: <sip:operators@plant-a.example.com>",
                "From: \"Smoke 4\" <sip:smoke-4@plant-a.example.com>;tag=49583",
                "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.20",
                "CSeq: 1 MESSAGE",
                "Content-Type: text/plain;charset=utf-8",
            ], body: text),
        method: "MESSAGE", statusCode: nil, callID: "1j9FpLxk3uxtm8tn@192.0.2.20", bodyLength: text.utf8.count)
}
