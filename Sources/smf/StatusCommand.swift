import ArgumentParser
import ControlChannel
import SMFNode

/// `smf status --data DIR`: asks the running node for its version, listeners and uptime (`node.status`).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the status of the node running with a data directory.",
        discussion: "Exits 1 when no node is running with that data directory."
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "Print the raw JSON answer instead of text.")
    var json = false

    func run() async throws {
        let status = try await node.withControlClient(command: "smf status") { client in
            try await client.call("node.status")
        }
        if json {
            print(status.jsonText(pretty: true))
            return
        }
        let decoded: NodeStatus
        do {
            decoded = try status.decode(NodeStatus.self)
        } catch {
            // A node of another version may answer differently; show what it said.
            print(status.jsonText(pretty: true))
            return
        }
        print(Self.format(decoded))
    }

    /// The human-readable form, one fact per line.
    static func format(_ status: NodeStatus) -> String {
        [
            "smf \(status.version) node '\(status.user)' running (pid \(status.pid), up \(formatDuration(seconds: status.uptimeSeconds)))",
            "data:      \(status.dataDirectory)",
            "listeners: \(status.listeners.isEmpty ? "none" : status.listeners.joined(separator: " "))",
            "node-id:   \(status.nodeID ?? "none")",
            "ring:      \(status.ringPhase ?? "not started")",
        ].joined(separator: "\n")
    }

    /// `45s`, `3m 07s`, `2h 03m 07s`, `4d 02h 03m`.
    static func formatDuration(seconds total: Int) -> String {
        let days = total / 86_400
        let hours = total % 86_400 / 3600
        let minutes = total % 3600 / 60
        let seconds = total % 60
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if days > 0 { return "\(days)d \(two(hours))h \(two(minutes))m" }
        if hours > 0 { return "\(hours)h \(two(minutes))m \(two(seconds))s" }
        if minutes > 0 { return "\(minutes)m \(two(seconds))s" }
        return "\(seconds)s"
    }
}
