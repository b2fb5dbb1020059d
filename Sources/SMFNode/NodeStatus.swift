import ControlChannel
import Foundation
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

    public init(version: String, user: String, dataDirectory: String, listeners: [String], uptimeSeconds: Int, pid: Int) {
        self.version = version
        self.user = user
        self.dataDirectory = dataDirectory
        self.listeners = listeners
        self.uptimeSeconds = uptimeSeconds
        self.pid = pid
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
        try control.register("node.status", arguments: NoArguments.self, summary: "version, user, data dir, listeners, uptime and pid") { _, _ in
            let uptime = ContinuousClock.now - started
            return NodeStatus(
                version: SMFVersion.current,
                user: configuration.user,
                dataDirectory: URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path,
                listeners: await transport.boundAddresses.map(\.description),
                uptimeSeconds: Int(uptime.components.seconds),
                pid: Int(ProcessInfo.processInfo.processIdentifier)
            )
        }
    }
}
