public import SIPCore
public import SIPTransport

/// Version of the `smf` software, used in `Server`/`User-Agent` headers and `smf --version`.
public enum SMFVersion {
    public static let current = "0.1.0"
    /// `smf/0.1.0`, the product token of RFC 3261 §20.35 / §20.41.
    public static let productToken = "smf/\(current)"
}

/// Everything a node needs to start: where it listens, where it keeps its data, who it is.
public struct NodeConfiguration: Sendable {
    /// SIP listeners; the default is UDP and TCP on 127.0.0.1:5060.
    public var listeners: [SIPListenAddress]
    /// Directory holding the node's database and keys; created when missing.
    public var dataDirectory: String
    /// The user part of this node's SIP URIs (e.g. `sip:smf@127.0.0.1:5060`).
    public var user: String
    /// RFC 3261 timers (T1, T2, T4).
    public var timers: SIPTimerConfiguration

    public init(
        listeners: [SIPListenAddress] = NodeConfiguration.defaultListeners,
        dataDirectory: String,
        user: String = "smf",
        timers: SIPTimerConfiguration = SIPTimerConfiguration()
    ) {
        self.listeners = listeners
        self.dataDirectory = dataDirectory
        self.user = user
        self.timers = timers
    }

    public static let defaultListeners: [SIPListenAddress] = [
        SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 5060),
        SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 5060),
    ]
}
