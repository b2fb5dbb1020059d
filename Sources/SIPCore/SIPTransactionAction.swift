public import SIPSyntax

/// What a transaction state machine asks its owner to do (RFC 3261 §17).
///
/// Every event method of the four transaction machines returns these in the order they must be
/// carried out. Nothing here performs I/O or reads a clock.
public enum SIPTransactionAction: Hashable, Sendable {
    /// Hand the request (first transmission or retransmission) to the transport.
    case sendRequest(SIPRequest)
    /// Hand an ACK the transaction built for a non-2xx final response to the transport (§17.1.1.3).
    case sendAck(SIPRequest)
    /// Hand the response (first transmission or retransmission) to the transport.
    case sendResponse(SIPResponse)
    /// Start `timer`, replacing any running instance of the same timer of this transaction.
    case scheduleTimer(SIPTimer, after: Duration)
    /// Stop `timer` if it is running; a firing that arrives anyway is ignored by the machine.
    case cancelTimer(SIPTimer)
    /// Pass a response up to the transaction user.
    case deliverResponseToTU(SIPResponse)
    /// Pass a request up to the transaction user (a new request, or an ACK in RFC 6026 "Accepted").
    case deliverRequestToTU(SIPRequest)
    /// Tell the TU the transaction timed out; a client TU treats it as a 408 (RFC 3261 §8.1.3.1).
    case reportTimeout
    /// Tell the TU the transport failed; a client TU treats it as a 503 (RFC 3261 §8.1.3.1).
    case reportTransportError
    /// The transaction reached "Terminated": cancel all of its timers and forget it.
    case terminate
}
