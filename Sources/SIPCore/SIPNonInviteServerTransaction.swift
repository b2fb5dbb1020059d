public import SIPSyntax

/// The non-INVITE server transaction of RFC 3261 §17.2.2.
///
/// ```
///                  started(): request to TU
///                                |
///                                V
///   request: absorb       +-------------+
///                    +----|   Trying    |------------------+
///                    +--->|             |  200-699 from TU:|
///                         +-------------+  send            |
///                   1xx from TU: |                         |
///                   send         V                         |
///   request: resend       +-------------+                  |
///   last 1xx         +----| Proceeding  |----------------->|
///   1xx from TU:     +--->|             |  200-699 from TU:|
///   send                  +-------------+  send            |
///                    transport error |                     V
///                    report to TU    |            +-------------+
///                                    |    +-------|  Completed  |  request: resend final
///                                    |    |       |             |<--+
///                                    |    |       +-------------+---+
///                                    |    | transport     | Timer J (64·T1 UDP, 0 TCP)
///                                    |    | error: report V
///                                    |    |       +-------------+
///                                    +----+------>|  Terminated |
///                                                 +-------------+
/// ```
///
/// Request retransmissions are answered with the last response the TU sent; in Trying they are
/// absorbed because there is nothing to resend yet.
public struct SIPNonInviteServerTransaction: Sendable {
    /// The states of Figure 8 of RFC 3261, plus ``initial`` before ``started()``.
    public enum State: Hashable, Sendable {
        case initial
        case trying
        case proceeding
        case completed
        case terminated
    }

    public private(set) var state: State = .initial
    /// The request that created this transaction.
    public let request: SIPRequest
    public let reliability: SIPTransportReliability
    public let configuration: SIPTimerConfiguration
    /// The most recent response the TU sent, resent on request retransmissions.
    public private(set) var lastResponse: SIPResponse?

    /// Creates the transaction for a newly received request; call ``started()`` to pass it up.
    public init(request: SIPRequest, reliability: SIPTransportReliability, configuration: SIPTimerConfiguration = .init()) {
        self.request = request
        self.reliability = reliability
        self.configuration = configuration
    }

    /// The request arrived and created this transaction: pass it to the TU (§17.2.2).
    public mutating func started() -> [SIPTransactionAction] {
        guard state == .initial else { return [] }
        state = .trying
        return [.deliverRequestToTU(request)]
    }

    /// A retransmission of the request arrived (§17.2.2).
    public mutating func requestRetransmissionReceived() -> [SIPTransactionAction] {
        switch state {
        case .proceeding, .completed:
            guard let lastResponse else { return [] }
            return [.sendResponse(lastResponse)]
        case .initial, .trying, .terminated:
            return []
        }
    }

    /// The TU answered the request (§17.2.2). Responses after the final one are ignored.
    public mutating func tuSentResponse(_ response: SIPResponse) -> [SIPTransactionAction] {
        switch state {
        case .trying, .proceeding:
            lastResponse = response
            if response.isProvisional {
                state = .proceeding
                return [.sendResponse(response)]
            }
            state = .completed
            let j = configuration.duration(of: .J, reliability: reliability)
            if j == .zero {
                state = .terminated
                return [.sendResponse(response), .terminate]
            }
            return [.sendResponse(response), .scheduleTimer(.J, after: j)]
        case .initial, .completed, .terminated:
            return []
        }
    }

    /// A timer this transaction scheduled fired; stale firings are ignored.
    public mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction] {
        guard state == .completed, timer == .J else { return [] }
        state = .terminated
        return [.terminate]
    }

    /// The transport could not send a response (§17.2.4): report it and terminate.
    public mutating func transportFailed() -> [SIPTransactionAction] {
        switch state {
        case .trying, .proceeding, .completed:
            state = .terminated
            return [.reportTransportError, .terminate]
        case .initial, .terminated:
            return []
        }
    }
}
