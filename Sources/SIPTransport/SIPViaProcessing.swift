import NIOCore
import SIPSyntax

/// Server-side `Via` handling of the transport layer (RFC 3261 §18.2.1, §18.2.2; RFC 3581 §4).
enum SIPViaProcessing {
    /// Adds `received` when the top Via's sent-by host is not the packet's source address, and fills an
    /// empty `rport` with the source port, adding `received` unconditionally in that case
    /// (RFC 3261 §18.2.1, RFC 3581 §4). Returns false when the request has no readable top Via.
    static func annotateTopVia(of request: inout SIPRequest, sourceIP: String, sourcePort: Int) -> Bool {
        guard var via = request.headers.topVia else { return false }
        var changed = false
        if via.rport == .requested {
            via.rport = .value(sourcePort)
            via.received = sourceIP
            changed = true
        } else if !sameIPAddress(stripBrackets(via.host), sourceIP) {
            via.received = sourceIP
            changed = true
        }
        if changed { replaceTopVia(in: &request.headers, with: via) }
        return true
    }

    /// The address a response to a request with this top Via goes to over an unreliable transport:
    /// `received` (else sent-by host) and the `rport` value (else sent-by port, else 5060)
    /// (RFC 3261 §18.2.2, RFC 3581 §4).
    static func responseTarget(for via: SIPVia) -> (host: String, port: Int) {
        let defaultPort = via.port ?? 5060
        if let received = via.received, !received.isEmpty {
            if case .value(let port) = via.rport { return (stripBrackets(received), port) }
            return (stripBrackets(received), defaultPort)
        }
        return (stripBrackets(via.host), defaultPort)
    }

    /// Replaces the first via-parm, keeping any other via-parms of the same header line in place.
    static func replaceTopVia(in headers: inout SIPHeaders, with via: SIPVia) {
        guard let index = headers.firstIndex(where: { $0.canonicalName == "via" }) else {
            headers.prepend(name: "Via", value: via.description)
            return
        }
        let field = headers[index]
        let values = SIPHeaders([(field.name, field.value)]).splitValues("Via")
        var newValue = via.description
        if values.count > 1 { newValue += ", " + values.dropFirst().joined(separator: ", ") }
        headers.setField(at: index, SIPHeaderField(name: field.name, value: newValue))
    }

    static func stripBrackets(_ host: String) -> String {
        if host.hasPrefix("["), host.hasSuffix("]") { return String(host.dropFirst().dropLast()) }
        return host
    }

    /// Compares two IP literals by value (so `::1` equals `0:0::1`); a non-IP host never equals an IP.
    static func sameIPAddress(_ lhs: String, _ rhs: String) -> Bool {
        if lhs == rhs { return true }
        guard let a = try? SocketAddress(ipAddress: lhs, port: 0), let b = try? SocketAddress(ipAddress: rhs, port: 0) else {
            return false
        }
        return a.ipAddress == b.ipAddress
    }
}
