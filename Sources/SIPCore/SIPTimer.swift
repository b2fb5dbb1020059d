/// The transaction timers of RFC 3261 §17 (summarised in Table 4 of Appendix A), the two timers
/// RFC 6026 §8 adds for the "Accepted" states, and the 100 (Trying) timer of §17.2.1.
///
/// A state machine never waits: it returns ``SIPTransactionAction/scheduleTimer(_:after:)`` and
/// whoever carries out the actions calls the machine's `timerFired(_:)` when the time is up.
/// Durations come from ``SIPTimerConfiguration/duration(of:reliability:)``. The cases keep the
/// RFC's upper-case letters so code reads like the RFC (`.scheduleTimer(.B, after:)`).
public enum SIPTimer: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// INVITE request retransmit interval, UDP only; starts at T1 and doubles (§17.1.1.2).
    case A
    /// INVITE transaction timeout, 64·T1 (§17.1.1.2).
    case B
    /// Wait time for response retransmits after a non-2xx final to INVITE: ≥ 32 s on UDP, 0 on TCP (§17.1.1.2).
    case D
    /// Non-INVITE request retransmit interval, UDP only; T1 doubling up to T2 (§17.1.2.2).
    case E
    /// Non-INVITE transaction timeout, 64·T1 (§17.1.2.2).
    case F
    /// INVITE final response retransmit interval, UDP only; T1 doubling up to T2 (§17.2.1).
    case G
    /// Wait time for ACK receipt, 64·T1 (§17.2.1).
    case H
    /// Wait time for ACK retransmits: T4 on UDP, 0 on TCP (§17.2.1).
    case I
    /// Wait time for non-INVITE request retransmits: 64·T1 on UDP, 0 on TCP (§17.2.2).
    case J
    /// Wait time for response retransmits after a non-INVITE final: T4 on UDP, 0 on TCP (§17.1.2.2).
    case K
    /// Wait time in the INVITE server "Accepted" state for INVITE retransmits and ACKs, 64·T1 (RFC 6026 §8.7).
    case L
    /// Wait time in the INVITE client "Accepted" state for 2xx retransmits and forks, 64·T1 (RFC 6026 §8.4).
    case M
    /// Sends 100 (Trying) if the TU has not answered an INVITE within 200 ms (RFC 3261 §17.2.1).
    case trying

    public var description: String {
        switch self {
        case .A: "Timer A"
        case .B: "Timer B"
        case .D: "Timer D"
        case .E: "Timer E"
        case .F: "Timer F"
        case .G: "Timer G"
        case .H: "Timer H"
        case .I: "Timer I"
        case .J: "Timer J"
        case .K: "Timer K"
        case .L: "Timer L"
        case .M: "Timer M"
        case .trying: "100 Trying timer"
        }
    }
}

/// Whether the transport that carries a transaction delivers reliably (RFC 3261 §18).
///
/// On a reliable transport (TCP, TLS, SCTP) nothing is retransmitted and the "wait for
/// retransmissions" timers D, I, J and K are zero, so the transaction terminates at once.
public enum SIPTransportReliability: Hashable, Sendable {
    /// TCP, TLS, SCTP.
    case reliable
    /// UDP.
    case unreliable
}
