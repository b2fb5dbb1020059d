public import SIPSyntax

/// The non-INVITE client transaction of RFC 3261 §17.1.2.
///
/// ```
///                  started(): send request, Timer F, Timer E (UDP only)
///                                 |
///                                 V
///   Timer E: resend,      +-------------+  Timer F or transport error: report to TU
///   E = min(2E, T2)  +----|   Trying    |--------------------------------------+
///                    +--->|             |---------------------+                |
///                         +-------------+  200-699: to TU     |                |
///                      1xx: to TU |                           |                |
///                                 V                           |                |
///   Timer E: resend,      +-------------+  Timer F or transport error: report  |
///   E = T2           +----| Proceeding  |------------------------------------->|
///   1xx: to TU       +--->|             |                     |                |
///                         +-------------+                     |                |
///                 200-699: to TU  |                           |                |
///                                 V                           |                |
///   200-699: absorb       +-------------+<--------------------+                |
///                    +----|  Completed  |                                      |
///                    +--->|             |                                      |
///                         +-------------+                                      |
///            Timer K (T4 UDP, 0 TCP)  |                                        |
///                                     V                                        |
///                         +-------------+                                      |
///                         |  Terminated |<-------------------------------------+
///                         +-------------+
/// ```
///
/// On a reliable transport Timer E is never started and Completed lasts zero time (Timer K = 0).
/// A final response or a timeout is reported to the TU exactly once.
public struct SIPNonInviteClientTransaction: Sendable {
    /// The states of Figure 6 of RFC 3261, plus ``initial`` before ``started()``.
    public enum State: Hashable, Sendable {
        case initial
        case trying
        case proceeding
        case completed
        case terminated
    }

    public private(set) var state: State = .initial
    /// The request this transaction sends and retransmits.
    public let request: SIPRequest
    public let reliability: SIPTransportReliability
    public let configuration: SIPTimerConfiguration
    /// The interval Timer E was last started with (§17.1.2.2).
    private var retransmitInterval: Duration

    /// Creates the transaction in its initial state; call ``started()`` to send the request.
    public init(request: SIPRequest, reliability: SIPTransportReliability, configuration: SIPTimerConfiguration = .init()) {
        self.request = request
        self.reliability = reliability
        self.configuration = configuration
        self.retransmitInterval = configuration.t1
    }

    /// The TU handed over the request: send it and start Timers F and E (§17.1.2.2).
    public mutating func started() -> [SIPTransactionAction] {
        guard state == .initial else { return [] }
        state = .trying
        var actions: [SIPTransactionAction] = [
            .sendRequest(request),
            .scheduleTimer(.F, after: configuration.duration(of: .F, reliability: reliability)),
        ]
        if reliability == .unreliable {
            retransmitInterval = configuration.t1
            actions.append(.scheduleTimer(.E, after: retransmitInterval))
        }
        return actions
    }

    /// A response matching this transaction arrived (§17.1.2.2).
    public mutating func responseReceived(_ response: SIPResponse) -> [SIPTransactionAction] {
        switch state {
        case .trying, .proceeding:
            if response.isProvisional {
                state = .proceeding
                return [.deliverResponseToTU(response)]
            }
            state = .completed
            var actions: [SIPTransactionAction] = [.cancelTimer(.F)]
            if reliability == .unreliable { actions.append(.cancelTimer(.E)) }
            actions.append(.deliverResponseToTU(response))
            return actions + enterCompletedTimer()
        case .initial, .completed, .terminated:
            // Completed absorbs retransmitted finals (§17.1.2.2); nothing else can arrive.
            return []
        }
    }

    /// A timer this transaction scheduled fired; stale firings are ignored.
    public mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction] {
        switch (state, timer) {
        case (.trying, .E):
            retransmitInterval = min(retransmitInterval * 2, configuration.t2)
            return [.sendRequest(request), .scheduleTimer(.E, after: retransmitInterval)]
        case (.proceeding, .E):
            retransmitInterval = configuration.t2
            return [.sendRequest(request), .scheduleTimer(.E, after: retransmitInterval)]
        case (.trying, .F), (.proceeding, .F):
            state = .terminated
            return [.reportTimeout, .terminate]
        case (.completed, .K):
            state = .terminated
            return [.terminate]
        default:
            return []
        }
    }

    /// The transport could not send the request (§17.1.4): report it and terminate.
    public mutating func transportFailed() -> [SIPTransactionAction] {
        switch state {
        case .trying, .proceeding:
            state = .terminated
            return [.reportTransportError, .terminate]
        case .initial, .completed, .terminated:
            return []
        }
    }

    /// Starts Timer K, or terminates at once on a reliable transport (§17.1.2.2).
    private mutating func enterCompletedTimer() -> [SIPTransactionAction] {
        let k = configuration.duration(of: .K, reliability: reliability)
        if k == .zero {
            state = .terminated
            return [.terminate]
        }
        return [.scheduleTimer(.K, after: k)]
    }
}
