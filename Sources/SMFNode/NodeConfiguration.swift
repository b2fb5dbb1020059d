public import Overlay
public import SIPCore
public import SIPSyntax
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
    /// A conventional registrar and presence server (e.g. Kamailio, `sip:10.0.0.1:5060`): when set, the node
    /// REGISTERs its contact there under `sip:USER@REGISTRAR-HOST:PORT` (RFC 3261 §10) and PUBLISHes its presence
    /// to that address of record (RFC 3903).
    public var registrar: SIPURI?
    /// Registration lifetime asked of the registrar, in seconds (RFC 3261 §10.2.1.1).
    public var registrationExpires: Int = 600
    /// Overlay peers to join the community's ring through (`host:port` or a SIP URI), tried in turn; empty
    /// asks local discovery for one, else starts a new ring (docs/overlay.md).
    public var overlayBootstrap: [OverlayAddress] = []
    /// The address peers reach the node's overlay at (`host:port`, `tcp:host:port` or a SIP URI). Nil: the first UDP
    /// listener as bound, which is wrong for a node listening on 0.0.0.0.
    public var overlayAddress: OverlayAddress?
    /// Local discovery of peers on the LAN (SIP OPTIONS over multicast; docs/overlay.md "Local discovery").
    public var discovery = NodeDiscoverySettings()
    /// The overlay's tunables (stabilisation period, request timeout, replicas, …). A node keeps 4 copies of each
    /// record (the owner and 3 successors), so 3 adjacent nodes may fail at once without losing a record.
    public var overlay: OverlayConfiguration = {
        var configuration = OverlayConfiguration()
        configuration.replicaCount = 4
        return configuration
    }()
    /// How long the node's own user registration in the overlay lives; it is stored again every half lifetime.
    public var overlayRegistrationLifetime: Duration = .seconds(3600)
    /// The simulated households whose houses the node has, for its energy services (`smf run --energy-households`).
    public var energy = NodeEnergyOptions()
    /// The service types the node offers and the sub-communities it takes part in (docs/services.md).
    public var services = NodeServiceOptions()
    /// Building surveillance: how the node answers alarms sent to its supporter (docs/surveillance.md).
    public var surveillance = NodeSurveillanceOptions()
    /// A test aid (`smf run --inject-udp-loss`): the share of received UDP datagrams the transport drops (0…1).
    public var injectedUDPLoss: Double = 0

    public init(
        listeners: [SIPListenAddress] = NodeConfiguration.defaultListeners,
        dataDirectory: String,
        user: String = "smf",
        timers: SIPTimerConfiguration = SIPTimerConfiguration(),
        registrar: SIPURI? = nil
    ) {
        self.listeners = listeners
        self.dataDirectory = dataDirectory
        self.user = user
        self.timers = timers
        self.registrar = registrar
    }

    public static let defaultListeners: [SIPListenAddress] = [
        SIPListenAddress(transport: .udp, host: "127.0.0.1", port: 5060),
        SIPListenAddress(transport: .tcp, host: "127.0.0.1", port: 5060),
    ]
}
