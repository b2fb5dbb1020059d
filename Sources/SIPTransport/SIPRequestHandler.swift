public import SIPSyntax

/// A request handed to the transaction user by a server transaction, with where it came from.
public struct SIPIncomingRequest: Sendable {
    public var request: SIPRequest
    /// The transport and remote address the request arrived from (after RFC 3581 processing the top
    /// Via also carries `received`/`rport`).
    public var source: SIPDestination

    public init(request: SIPRequest, source: SIPDestination) {
        self.request = request
        self.source = source
    }
}

/// The transaction user above the transport: answers each new request (RFC 3261 §8.2, §17.2).
///
/// The response is handed to the server transaction, which sends it and absorbs retransmissions.
/// Return `nil` only for requests that are never answered (ACK, RFC 3261 §17.1.1.3).
public protocol SIPRequestHandler: Sendable {
    func handle(_ incoming: SIPIncomingRequest) async -> SIPResponse?
}

extension SIPResponse {
    /// Builds a response to `request` with the headers RFC 3261 §8.2.6.2 requires: every Via in order,
    /// From, To, Call-ID and CSeq copied (and Timestamp, §8.2.6.1). No To tag is added here.
    public static func answering(_ request: SIPRequest, statusCode: Int, reasonPhrase: String? = nil) -> SIPResponse {
        var headers = SIPHeaders()
        for field in request.headers where Self.copiedHeaders.contains(field.canonicalName) {
            headers.add(name: field.name, value: field.value)
        }
        return SIPResponse(statusCode: statusCode, reasonPhrase: reasonPhrase, headers: headers)
    }

    private static let copiedHeaders: Set<String> = ["via", "from", "to", "call-id", "cseq", "timestamp"]
}
