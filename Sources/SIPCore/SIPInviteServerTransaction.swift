public import SIPSyntax

/// The INVITE server transaction of RFC 3261 §17.2.1, with the "Accepted" state of RFC 6026 §8.7.
///
/// ```
///          started(): INVITE to TU; 100 (Trying) if the TU has not answered within 200 ms
///                                |
///                                V
///   INVITE: resend        +-------------+  2xx from TU: send
///   last 1xx         +----| Proceeding  |---------------------------+
///   1xx from TU:     +--->|             |                           |
///   send                  +-------------+                           V
///              300-699 from TU: |    | transport error     +-------------+ 2xx from TU: send
///              send, G, H       |    | report to TU        |  Accepted   | ACK: to TU
///                               V    |                     | (RFC 6026)  |<---+
///   INVITE: resend final  +-------------+                  +-------------+----+
///   Timer G: resend, ---->|  Completed  |-----------+       INVITE: absorb|
///   G = min(2G, T2)  <----|             |           |                     |
///                         +-------------+           | Timer H or          | Timer L
///                          ACK: stop G, H |         | transport error:    |
///                                         V         | report to TU        |
///   INVITE, ACK: absorb   +-------------+           |                     |
///                    +----|  Confirmed  |           |                     |
///                    +--->|             |           |                     |
///                         +-------------+           |                     |
///             Timer I (T4 UDP, 0 TCP) |             |                     |
///                                     V             V                     V
///                         +--------------------------------------------------+
///                         |                    Terminated                    |
///                         +--------------------------------------------------+
/// ```
///
/// The 100 (Trying) delay is ``SIPTimerConfiguration/tryingDelay`` (the RFC's 200 ms by default);
/// with `.zero` the 100 is sent at once together with passing the INVITE up. RFC 3261 terminates
/// on a 2xx from the TU; RFC 6026 §8.7 keeps the transaction in "Accepted" for Timer L (64·T1) so
/// INVITE retransmissions are absorbed instead of looking like new requests, while the TU itself
/// retransmits the 2xx (§13.3.1.4) through ``tuSentResponse(_:)``.
public struct SIPInviteServerTransaction: Sendable {
    /// The states of Figure 7 of RFC 3261 and RFC 6026, plus ``initial`` before ``started()``.
    public enum State: Hashable, Sendable {
        case initial
        case proceeding
        case completed
        case confirmed
        case accepted
        case terminated
    }

    public private(set) var state: State = .initial
    /// The INVITE that created this transaction.
    public let request: SIPRequest
    public let reliability: SIPTransportReliability
    public let configuration: SIPTimerConfiguration
    /// The most recent response sent (by the TU, or the transaction's own 100 Trying).
    public private(set) var lastResponse: SIPResponse?
    /// Whether the 100 (Trying) timer is running.
    private var tryingTimerRunning = false
    /// The interval Timer G was last started with (§17.2.1).
    private var retransmitInterval: Duration

    /// Creates the transaction for a newly received INVITE; call ``started()`` to pass it up.
    public init(request: SIPRequest, reliability: SIPTransportReliability, configuration: SIPTimerConfiguration = .init()) {
        self.request = request
        self.reliability = reliability
        self.configuration = configuration
        self.retransmitInterval = configuration.t1
    }

    /// The INVITE arrived and created this transaction: pass it to the TU and arrange for
    /// 100 (Trying) (§17.2.1).
    public mutating func started() -> [SIPTransactionAction] {
        guard state == .initial else { return [] }
        state = .proceeding
        let delay = configuration.duration(of: .trying, reliability: reliability)
        if delay <= .zero {
            let trying = SIPTransactionMessages.trying(for: request)
            lastResponse = trying
            return [.sendResponse(trying), .deliverRequestToTU(request)]
        }
        tryingTimerRunning = true
        return [.deliverRequestToTU(request), .scheduleTimer(.trying, after: delay)]
    }

    /// A retransmission of the INVITE arrived (§17.2.1, RFC 6026 §8.7).
    public mutating func requestRetransmissionReceived() -> [SIPTransactionAction] {
        switch state {
        case .proceeding, .completed:
            guard let lastResponse else { return [] }
            return [.sendResponse(lastResponse)]
        case .initial, .confirmed, .accepted, .terminated:
            return []
        }
    }

    /// An ACK matching this transaction arrived (§17.2.1, RFC 6026 §8.7).
    public mutating func ackReceived(_ ack: SIPRequest) -> [SIPTransactionAction] {
        switch state {
        case .completed:
            state = .confirmed
            var actions: [SIPTransactionAction] = []
            if reliability == .unreliable { actions.append(.cancelTimer(.G)) }
            actions.append(.cancelTimer(.H))
            let i = configuration.duration(of: .I, reliability: reliability)
            if i == .zero {
                state = .terminated
                actions.append(.terminate)
            } else {
                actions.append(.scheduleTimer(.I, after: i))
            }
            return actions
        case .accepted:
            return [.deliverRequestToTU(ack)]
        case .initial, .proceeding, .confirmed, .terminated:
            return []
        }
    }

    /// The TU answered the INVITE (§17.2.1, RFC 6026 §8.7). Responses the state does not allow
    /// (anything after a non-2xx final, a non-2xx after a 2xx) are ignored.
    public mutating func tuSentResponse(_ response: SIPResponse) -> [SIPTransactionAction] {
        switch state {
        case .proceeding:
            var actions: [SIPTransactionAction] = []
            if tryingTimerRunning {
                tryingTimerRunning = false
                actions.append(.cancelTimer(.trying))
            }
            lastResponse = response
            actions.append(.sendResponse(response))
            switch response.statusCode {
            case ..<200:
                break
            case 200..<300:
                state = .accepted
                actions.append(.scheduleTimer(.L, after: configuration.duration(of: .L, reliability: reliability)))
            default:
                state = .completed
                if reliability == .unreliable {
                    retransmitInterval = configuration.t1
                    actions.append(.scheduleTimer(.G, after: retransmitInterval))
                }
                actions.append(.scheduleTimer(.H, after: configuration.duration(of: .H, reliability: reliability)))
            }
            return actions
        case .accepted:
            guard (200..<300).contains(response.statusCode) else { return [] }
            lastResponse = response
            return [.sendResponse(response)]
        case .initial, .completed, .confirmed, .terminated:
            return []
        }
    }

    /// A timer this transaction scheduled fired; stale firings are ignored.
    public mutating func timerFired(_ timer: SIPTimer) -> [SIPTransactionAction] {
        switch (state, timer) {
        case (.proceeding, .trying):
            guard tryingTimerRunning else { return [] }
            tryingTimerRunning = false
            let trying = SIPTransactionMessages.trying(for: request)
            lastResponse = trying
            return [.sendResponse(trying)]
        case (.completed, .G):
            guard let lastResponse else { return [] }
            retransmitInterval = min(retransmitInterval * 2, configuration.t2)
            return [.sendResponse(lastResponse), .scheduleTimer(.G, after: retransmitInterval)]
        case (.completed, .H):
            state = .terminated
            return [.reportTimeout, .terminate]
        case (.confirmed, .I), (.accepted, .L):
            state = .terminated
            return [.terminate]
        default:
            return []
        }
    }

    /// The transport could not send a response (§17.2.4): report it and terminate.
    public mutating func transportFailed() -> [SIPTransactionAction] {
        switch state {
        case .proceeding, .completed, .accepted:
            state = .terminated
            return [.reportTransportError, .terminate]
        case .initial, .confirmed, .terminated:
            return []
        }
    }
}
