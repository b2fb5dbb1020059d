public import SIPCore
public import SIPSyntax

/// Sees each outgoing request last before it is sent (see ``SIPTransportConfiguration/outboundRequestHook``).
/// It runs on the sender's executor (`nonisolated(nonsending)`), so a hook with nothing to await costs no hop.
public typealias SIPOutboundRequestHook = nonisolated(nonsending) @Sendable (SIPRequest, SIPDestination) async -> SIPRequest?

/// Settings of a ``SIPTransport``; the defaults follow RFC 3261.
public struct SIPTransportConfiguration: Sendable {
    /// Sockets to open. Port 0 binds an ephemeral port; ``SIPTransport/bind()`` returns the real ones.
    public var listeners: [SIPListenAddress] = [
        SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 5060),
        SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 5060),
    ]
    /// T1, T2, T4 and the timers derived from them (RFC 3261 §17, Table 4).
    public var timers: SIPTimerConfiguration = SIPTimerConfiguration()
    /// Size and count limits applied to datagrams and streams (RFC 3261 §18.3).
    public var parserLimits: SIPParser.Limits = SIPParser.Limits()
    /// Value of the `User-Agent` header added to requests we send, e.g. `smf/0.1.0` (RFC 3261 §20.41).
    public var userAgent: String = "smf"
    /// A request larger than this many bytes is sent over TCP instead of UDP (RFC 3261 §18.1.1: 1300
    /// bytes when the path MTU is unknown).
    public var udpSizeLimit: Int = 1300
    /// Largest datagram accepted from the network (bytes); bigger ones are refused by the parser limits.
    public var maximumDatagramSize: Int = 65_535
    /// Called with every request ``SIPTransport/send(_:to:)`` is about to send, once per transaction (not per
    /// retransmission): after `Max-Forwards` and `User-Agent` are added, before the Via and the UDP size check.
    /// It returns the request to send (e.g. with headers added by whoever installed it), or nil to refuse
    /// sending it, which makes `send` throw ``SIPTransportError/refused``. The transport knows nothing of what
    /// the hook does; nil (the default) sends every request unchanged.
    public var outboundRequestHook: SIPOutboundRequestHook?
    /// A test aid (`smf run --inject-udp-loss`): this share (0…1) of the datagrams received is dropped before
    /// they are parsed, as a lossy network would, so retransmissions (RFC 3261 §17.1.2.2, §17.2.2) are exercised
    /// on real sockets where `tc netem` is not available. 0 (the default) drops nothing.
    public var injectedReceiveLoss: Double = 0

    public init() {}
}
