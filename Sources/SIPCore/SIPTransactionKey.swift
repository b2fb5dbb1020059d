public import SIPSyntax

/// Identifies a transaction for matching messages to it (RFC 3261 §17.1.3, §17.2.3).
///
/// - Client keys are the top-Via branch and the CSeq method (§17.1.3), so an INVITE and the
///   CANCEL for it (same branch, §9.1) are different transactions.
/// - Server keys for a branch with the `z9hG4bK` cookie are branch, top-Via sent-by and method,
///   with ACK folded into INVITE so that the ACK for a non-2xx final reaches the INVITE server
///   transaction (§17.2.3).
/// - Server keys for an RFC 2543 request (no cookie) are Request-URI, From tag, To tag, Call-ID,
///   CSeq number, method and the whole top Via (§17.2.3). The To tag is left out for INVITE (and
///   so for its ACK and the CANCEL lookup), because the ACK carries the tag of our response; the
///   layer checks that tag separately.
public struct SIPTransactionKey: Hashable, Sendable, CustomStringConvertible {
    /// Which side of the transaction we are.
    public enum Role: Hashable, Sendable {
        case client
        case server
    }

    enum Identity: Hashable, Sendable {
        case branch(String, sentBy: String)
        case rfc2543(requestURI: String, fromTag: String?, toTag: String?, callID: String, sequence: UInt32, topVia: String)
    }

    public let role: Role
    /// The method of the request that created the transaction (INVITE for an ACK's key).
    public let method: SIPMethod
    let identity: Identity

    init(role: Role, method: SIPMethod, identity: Identity) {
        self.role = role
        self.method = method
        self.identity = identity
    }

    /// The branch this key was built from, if it is an RFC 3261 key.
    public var branch: String? {
        if case .branch(let branch, _) = identity { return branch }
        return nil
    }

    /// Whether this key uses the RFC 2543 fallback (§17.2.3).
    public var isRFC2543: Bool {
        if case .rfc2543 = identity { return true }
        return false
    }

    public var description: String {
        let side = role == .client ? "client" : "server"
        switch identity {
        case .branch(let branch, let sentBy):
            return sentBy.isEmpty ? "\(side) \(method) \(branch)" : "\(side) \(method) \(branch) \(sentBy)"
        case .rfc2543(_, _, _, let callID, let sequence, _):
            return "\(side) \(method) rfc2543 \(callID) \(sequence)"
        }
    }

    /// The key of the client transaction that sends `request` (§17.1.3).
    public static func client(for request: SIPRequest) throws(SIPTransactionError) -> SIPTransactionKey {
        guard let via = request.headers.topVia else { throw .missingVia }
        guard let branch = via.branch, !branch.isEmpty else { throw .missingBranch }
        guard let cseq = request.headers.cseq else { throw .missingCSeq }
        guard cseq.method == request.method else { throw .cseqMethodMismatch }
        return SIPTransactionKey(role: .client, method: request.method, identity: .branch(branch, sentBy: ""))
    }

    /// The key of the client transaction `response` belongs to: top-Via branch and CSeq method
    /// (§17.1.3); `nil` when either is missing.
    public static func client(matching response: SIPResponse) -> SIPTransactionKey? {
        guard let branch = response.headers.topVia?.branch, !branch.isEmpty,
            let cseq = response.headers.cseq
        else { return nil }
        return SIPTransactionKey(role: .client, method: cseq.method, identity: .branch(branch, sentBy: ""))
    }

    /// The key of the server transaction `request` belongs to (§17.2.3); an ACK maps to its INVITE.
    public static func server(for request: SIPRequest) throws(SIPTransactionError) -> SIPTransactionKey {
        let method: SIPMethod = request.method == .ack ? .invite : request.method
        return try server(for: request, as: method)
    }

    /// The key of the INVITE server transaction a CANCEL refers to (RFC 3261 §9.2): the CANCEL's
    /// own matching rules applied with method INVITE.
    public static func inviteServer(cancelledBy cancel: SIPRequest) throws(SIPTransactionError) -> SIPTransactionKey {
        try server(for: cancel, as: .invite)
    }

    private static func server(for request: SIPRequest, as method: SIPMethod) throws(SIPTransactionError) -> SIPTransactionKey {
        guard let via = request.headers.topVia else { throw .missingVia }
        guard let cseq = request.headers.cseq else { throw .missingCSeq }
        guard cseq.method == request.method else { throw .cseqMethodMismatch }
        if via.hasRFC3261Branch, let branch = via.branch {
            let sentBy = via.port.map { "\(via.host.lowercased()):\($0)" } ?? via.host.lowercased()
            return SIPTransactionKey(role: .server, method: method, identity: .branch(branch, sentBy: sentBy))
        }
        guard let callID = request.headers.callID else { throw .missingCallID }
        let identity = Identity.rfc2543(
            requestURI: request.uri.description,
            fromTag: request.headers.from?.tag,
            toTag: method == .invite ? nil : request.headers.to?.tag,
            callID: callID,
            sequence: cseq.sequence,
            topVia: via.description
        )
        return SIPTransactionKey(role: .server, method: method, identity: identity)
    }
}
