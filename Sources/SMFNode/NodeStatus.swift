import ControlChannel
import Foundation
import Overlay
import OverlaySIP
import SIPTransport

/// The answer to `node.status`: what `smf status --data DIR` prints.
public struct NodeStatus: Codable, Sendable, Equatable {
    /// The `smf` version the node runs.
    public var version: String
    /// The user part of the node's SIP URIs.
    public var user: String
    /// The node's data directory.
    public var dataDirectory: String
    /// The bound SIP listeners, e.g. `udp:127.0.0.1:5060`.
    public var listeners: [String]
    /// Whole seconds since the node was created.
    public var uptimeSeconds: Int
    /// The node's process id.
    public var pid: Int
    /// The node's overlay Node-ID (40 hex digits), once it started.
    public var nodeID: String?
    /// The overlay ring phase: `idle`, `joining`, `joined` or `left`.
    public var ringPhase: String?
    /// UDP datagrams dropped on purpose (`smf run --inject-udp-loss`); nil when no loss is injected.
    public var injectedUDPDrops: Int?

    public init(
        version: String, user: String, dataDirectory: String, listeners: [String], uptimeSeconds: Int, pid: Int, nodeID: String? = nil,
        ringPhase: String? = nil, injectedUDPDrops: Int? = nil
    ) {
        self.injectedUDPDrops = injectedUDPDrops
        self.version = version
        self.user = user
        self.dataDirectory = dataDirectory
        self.listeners = listeners
        self.uptimeSeconds = uptimeSeconds
        self.pid = pid
        self.nodeID = nodeID
        self.ringPhase = ringPhase
    }
}

/// `node.status` takes no arguments; unknown ones are ignored.
struct NoArguments: Codable, Sendable {}

extension SMFNode {
    /// Registers the node's own control commands (`node.status`).
    func registerNodeCommands() throws(ControlError) {
        let transport = self.transport
        let configuration = self.configuration
        let started = self.startedAt
        let slot = self.runtimeSlot
        try control.register("node.status", arguments: NoArguments.self, summary: "version, user, data dir, listeners, uptime, pid, Node-ID and ring phase") { _, _ in
            let uptime = ContinuousClock.now - started
            let overlay = await slot.current?.overlay.node.status()
            return NodeStatus(
                version: SMFVersion.current,
                user: configuration.user,
                dataDirectory: URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path,
                listeners: await transport.boundAddresses.map(\.description),
                uptimeSeconds: Int(uptime.components.seconds),
                pid: Int(ProcessInfo.processInfo.processIdentifier),
                nodeID: overlay?.me.id.description,
                ringPhase: overlay.map { "\($0.phase)" },
                injectedUDPDrops: configuration.injectedUDPLoss > 0 ? await transport.injectedDrops : nil
            )
        }
    }
}
