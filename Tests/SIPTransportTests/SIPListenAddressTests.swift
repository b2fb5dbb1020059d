import Testing
@testable import SIPTransport

@Suite struct SIPListenAddressTests {
    @Test func parsesIPv4AndIPv6ListenersWithPorts() throws {
        let udp = try SIPListenAddress(parsing: "udp:127.0.0.1:5060")
        #expect(udp == SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 5060))
        let tcp = try SIPListenAddress(parsing: "TCP:[::1]:0")
        #expect(tcp == SIPListenAddress(transport: .tcp, host: "::1", port: 0))
        #expect(tcp.description == "tcp:[::1]:0")
        #expect(udp.description == "udp:127.0.0.1:5060")
    }

    @Test(arguments: [
        ("sctp:127.0.0.1:5060", "unknown transport"),
        ("udp:127.0.0.1", "missing ':port'"),
        ("udp:127.0.0.1:70000", "not a number in 0...65535"),
        ("udp:::1:5060", "must be written in brackets"),
        ("udp:[::1:5060", "closing ']'"),
        ("udp:example.com:5060", "not a literal IPv4 or IPv6"),
        ("udp:256.1.1.1:5060", "not a literal IPv4 or IPv6"),
        ("127.0.0.1", "expected transport:host:port"),
    ])
    func rejectsMalformedListenersNamingTheProblem(input: String, problem: String) {
        #expect {
            try SIPListenAddress(parsing: input)
        } throws: { error in
            guard let error = error as? SIPAddressError else { return false }
            return error.input == input && error.description.contains(problem)
        }
    }
}
