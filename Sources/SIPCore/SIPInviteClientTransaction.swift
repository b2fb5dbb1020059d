public import SIPSyntax

/// The INVITE client transaction of RFC 3261 §17.1.1, with the "Accepted" state of RFC 6026 §8.4.
///
/// ```
///                 started(): send INVITE, Timer B, Timer A (UDP only)
///                                |
///                                V
///   Timer A: resend,      +-------------+  Timer B or transport error: report to TU
///   A = 2A (no cap)  +----|   Calling   |------------------------------------+
///                    +--->|             |-----------------------+            |
///                         +-------------+   2xx: to TU          |            |
///                      1xx: to TU |   | 300-699: ACK, to TU     |            |
///                                 V   +------------+            |            |
///   1xx: to TU            +-------------+          |            |            |
///                    +----| Proceeding  |------------------------>|            |
///                    +--->|             | 2xx: to TU            |            |
///                         +-------------+          |            V            |
///             300-699: ACK, to TU |                |     +-------------+     |
///                                 V                |     |  Accepted   |     |
///   300-699: ACK          +-------------+<---------+     | (RFC 6026)  |     |
///                    +----|  Completed  |                +-------------+     |
///                    +--->|             |          2xx: to TU ^   | |        |
///                         +-------------+                  +--+---+ |        |
///            Timer D (32 s UDP, 0 TCP) |                            | Timer M|
///            or transport error        V                            V        |
///                         +------------------------------------------------+ |
///                         |                  Terminated                    |<+
///                         +------------------------------------------------+
/// ```
///
/// RFC 3261 terminates the transaction on a 2xx; RFC 6026 §8.4 instead waits in "Accepted" for
/// Timer M (64·T1) so that retransmitted and forked 2xx responses still reach the TU, which sends
/// the ACK for a 2xx itself (§13.2.2.4). The transaction builds and sends the ACK for every
/// 300–699 response, including retransmissions, per §17.1.1.3.
public struct SIPInviteClientTransaction: Sendable {
    /// The states of Figure 5 of RFC 3261 and RFC 6026, plus ``initial`` before ``started()``.
    public enum State: Hashable, Sendable {
        case initial
        case calling
        case proceeding
        case completed
        case accepted
        case terminated
    }

    public private(set) var state: State = .initial
    /// The INVITE this transaction sends and retransmits.
    public let request: SIPRequest
    public let reliability: SIPTransportReliability
    public let configuration: SIPTimerConfiguration
    /// The interval Timer A was last started with (§17.1.1.2).
    private var retransmitInterval: Duration

    /// Creates the transaction in its initial state; call ``started()`` to send the INVITE.
    public init(request: SIPRequest, reliability: SIPTransportReliability, configuration: SIPTimerConfiguration = .init()) {
        self.request = request
        self.reliability = reliability
        self.configuration = configuration
        self.retransmitInterval = configuration.t1
    }

    /// The TU handed over the INVITE: send it and start Timers B and A (§17.1.1.2).
    public mutating func started() -> [SIPTransactionAction] {
        guard state == .initial else { return [] }
        state = .calling
        var actions: [SIPTransactionAction] = [
            .sendRequest(request),
            .scheduleTimer(.B, after: configuration.duration(of: .B, reliability: reliability)),
        ]
        if reliability == .unreliable {
            retransmitInterval = configuration.t1
            actions.append(.scheduleTimer(.A, after: retransmitInterval))
        }
        return actions
    }

    /// A response matching this transaction arrived (§17.1.1.2, RFC 6026 §8.4).
    public mutating func responseReceived(_ response: SIPResponse) -> [SIPTransactionAction] {
        switch state {
        case .calling, .proceeding:
            let leavingCalling = state == .calling
            var actions: [SIPTransactionAction] = []
            if leavingCalling {
                // Timers A and B only run in Calling (Figure 5).
                if reliability == .unreliable { actions.append(.cancelTimer(.A)) }
                actions.append(.cancelTimer(.B))
            }
            switch response.statusCode {
            case ..<200:
                state = .proceeding
                actions.append(.deliverResponseToTU(response))
                return actions
            case 200..<300:
                state = .accepted
                actions.append(.deliverResponseToTU(response))
                actions.append(.scheduleTimer(.M, after: configuration.duration(of: .M, reliability: reliability)))
                return actions
            default:
                state = .completed
                actions.append(.sendAck(SIPTransactionMessages.ack(for: request, acknowledging: response)))
                actions.append(.deliverResponseToTU(response))
                let d = configuration.duration(of: .D, reliability: reliability)
                if d == .zero {
                    state = .terminated
                    actions.append(.terminate)
                } else {
                    actions.append(.scheduleTimer(.D, after: d))
                }
                return actions
            }
        case .completed:
            // A retransmitted final is acknowledged again but not passed up (§17.1.1.2).
            guard response.isFinal, !(200..<300).contains(response.statusCode) else { return [] }
            return [.sendAck(SIPTransactionMessages.ack(for: request, acknowledging: response))]
        case .accepted:
            // RFC 6026 §8.4: every 2xx goes up, nothing else does; the TU ACKs 2xx itself.
            guard (200..<300).contains(response.statusCode) else { return [] }
            return [.deliverResponseToTU(response)]
        case .initial, .terminated:
            return []
        }
    }

    /// A timer this transaction scheduled fired; stale firings are ignored.
    public mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction] {
        switch (state, timer) {
        case (.calling, .A):
            retransmitInterval = retransmitInterval * 2
            return [.sendRequest(request), .scheduleTimer(.A, after: retransmitInterval)]
        case (.calling, .B):
            state = .terminated
            return [.reportTimeout, .terminate]
        case (.completed, .D), (.accepted, .M):
            state = .terminated
            return [.terminate]
        default:
            return []
        }
    }

    /// The transport could not send the INVITE or an ACK (§17.1.1.2, §17.1.4): report and terminate.
    public mutating func transportFailed() -> [SIPTransactionAction] {
        switch state {
        case .calling, .proceeding, .completed:
            state = .terminated
            return [.reportTransportError, .terminate]
        case .initial, .accepted, .terminated:
            return []
        }
    }
}
