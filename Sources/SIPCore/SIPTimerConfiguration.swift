/// The base timer values from which every transaction timer is derived (RFC 3261 §17.1.1.1, Table 4).
///
/// All values are configurable; the defaults are the RFC's recommended ones.
public struct SIPTimerConfiguration: Hashable, Sendable {
    /// RTT estimate; default 500 ms (RFC 3261 §17.1.1.1).
    public var t1: Duration
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses; default 4 s (§17.1.2.2).
    public var t2: Duration
    /// Maximum duration a message stays in the network; default 5 s (§17.1.2.2).
    public var t4: Duration
    /// Timer D on an unreliable transport; default 32 s, and the RFC requires at least 32 s (§17.1.1.2).
    public var timerD: Duration
    /// How long an INVITE server transaction waits for the TU before sending 100 (Trying) itself;
    /// default 200 ms (RFC 3261 §17.2.1). `.zero` sends 100 (Trying) at once when the INVITE arrives.
    public var tryingDelay: Duration

    /// The RFC 3261 defaults: T1 500 ms, T2 4 s, T4 5 s, Timer D 32 s, 100 (Trying) after 200 ms.
    public init() {
        self.t1 = .milliseconds(500)
        self.t2 = .seconds(4)
        self.t4 = .seconds(5)
        self.timerD = .seconds(32)
        self.tryingDelay = .milliseconds(200)
    }

    /// The initial or fixed duration of `timer` on a transport of the given reliability (RFC 3261 Table 4).
    ///
    /// For the retransmission timers A, E and G this is the first interval; the machines double it.
    /// They are never scheduled on a reliable transport, but the table value (T1) is still returned.
    public func duration(of timer: SIPTimer, reliability: SIPTransportReliability) -> Duration {
        let reliable = reliability == .reliable
        switch timer {
        case .A, .E, .G: return t1
        case .B, .F, .H, .L, .M: return t1 * 64
        case .D: return reliable ? .zero : timerD
        case .I, .K: return reliable ? .zero : t4
        case .J: return reliable ? .zero : t1 * 64
        case .trying: return tryingDelay
        }
    }
}
