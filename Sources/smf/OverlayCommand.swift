import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// `smf overlay status|put|get|lookup`: the running node's view of the community overlay (docs/overlay.md).
struct OverlayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlay",
        abstract: "Inspect and use the community overlay through the running node.",
        subcommands: [OverlayStatusCommand.self, OverlayPutCommand.self, OverlayGetCommand.self, OverlayLookupCommand.self]
    )
}

struct OverlayStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the node's Node-ID, ring phase, predecessor, successors, fingers and record count."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: OverlayRingOption

    @Flag(name: .long, help: "Print the raw JSON answer instead of text.")
    var json = false

    func run() async throws {
        let arguments = CommunityArguments(community: community.community)
        let status = try await node.withControlClient(command: "smf overlay status") { client in
            try await client.call("overlay.status", try ControlValue(encoding: arguments))
        }
        if json {
            print(status.jsonText(pretty: true))
            return
        }
        do {
            print(Self.format(try status.decode(OverlayStatusReport.self)))
        } catch {
            print(status.jsonText(pretty: true))
        }
    }

    /// One fact per line; peers as `<node-id> <address>`.
    static func format(_ report: OverlayStatusReport) -> String {
        func peer(_ info: OverlayPeerInfo) -> String { "\(info.id) \(info.address)" }
        var lines = [
            "node-id:     \(peer(report.node))",
            "phase:       \(report.phase)",
            "aor:         \(report.addressOfRecord)",
            "predecessor: \(report.predecessor.map(peer) ?? "none")",
            "records:     \(report.recordCount)",
            "successors:  \(report.successors.count)",
        ]
        lines += report.successors.map { "  \(peer($0))" }
        lines.append("fingers:     \(report.fingers.count)")
        lines += report.fingers.map { "  \(peer($0))" }
        return lines.joined(separator: "\n")
    }
}

struct OverlayPutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store VALUE under Resource-ID(NAME), signed by the node.",
        discussion: "Prints 'stored NAME (resource <id>, sequence <n>)'; exits 1 when the overlay could not store it."
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The resource name.", valueName: "name"))
    var name: String

    @Argument(help: ArgumentHelp("The value (text, at most 4096 bytes).", valueName: "value"))
    var value: String

    @Option(name: .long, help: ArgumentHelp("Lifetime of the record in seconds.", valueName: "seconds"))
    var ttl: Int = 86_400

    @OptionGroup var community: OverlayRingOption

    func validate() throws {
        guard !name.isEmpty else { throw ValidationError("NAME must not be empty") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive, not \(ttl)") }
    }

    func run() async throws {
        let arguments = OverlayPutArguments(name: name, value: value, ttlSeconds: ttl, community: community.community)
        let result = try await node.withControlClient(command: "smf overlay put") { client in
            try await client.call("overlay.put", arguments: arguments, as: OverlayPutResult.self)
        }
        print("stored \(result.name) (resource \(result.resourceID), sequence \(result.sequence))")
    }
}

struct OverlayGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the value(s) stored under Resource-ID(NAME), one per line.",
        discussion: "Exits 1 with 'no record named NAME in the overlay' when there is none."
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The resource name.", valueName: "name"))
    var name: String

    @Flag(name: .long, help: "Print the raw JSON answer (kind, value, owner, sequence of each record).")
    var json = false

    @OptionGroup var community: OverlayRingOption

    func run() async throws {
        let arguments = OverlayGetArguments(name: name, community: community.community)
        let records = try await node.withControlClient(command: "smf overlay get") { client in
            try await client.call("overlay.get", try ControlValue(encoding: arguments))
        }
        if json {
            print(records.jsonText(pretty: true))
            return
        }
        for record in try records.decode([OverlayRecordInfo].self) {
            print(record.value)
        }
    }
}

struct OverlayLookupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookup",
        abstract: "Print the contacts registered in the overlay for an address of record, one per line.",
        discussion: "AOR is e.g. sip:smf@127.0.0.1:5060. Exits 1 when it is not registered."
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The address of record.", valueName: "aor"))
    var aor: String

    func run() async throws {
        let arguments = OverlayLookupArguments(aor: aor)
        let result = try await node.withControlClient(command: "smf overlay lookup") { client in
            try await client.call("overlay.lookup", arguments: arguments, as: OverlayLookupResult.self)
        }
        for contact in result.contacts {
            print(contact)
        }
    }
}

/// `--community NAME`: use that community's ring instead of the node's default ring.
struct OverlayRingOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Use this community's ring (its name or the first digits of its ID) instead of the node's default ring.", valueName: "name"))
    var community: String?
}
