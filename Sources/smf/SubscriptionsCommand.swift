import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// `smf subscriptions`: the live subscriptions of the running node, both roles (RFC 6665).
struct SubscriptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriptions",
        abstract: "List the running node's live subscriptions (role, package, peer, state, expires in, last NOTIFY CSeq)."
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "Print the raw JSON answer instead of a table.")
    var json = false

    func run() async throws {
        let value = try await node.withControlClient(command: "smf subscriptions") { client in
            try await client.call("subscriptions.list")
        }
        if json {
            print(value.jsonText(pretty: true))
            return
        }
        let rows: [SubscriptionRow]
        do {
            rows = try value.decode([SubscriptionRow].self)
        } catch {
            print(value.jsonText(pretty: true))
            return
        }
        print(Self.table(rows))
    }

    /// A left-aligned table with a header line; `no subscriptions` when empty.
    static func table(_ rows: [SubscriptionRow]) -> String {
        guard !rows.isEmpty else { return "no subscriptions" }
        let header = ["ROLE", "PACKAGE", "PEER", "STATE", "EXPIRES", "CSEQ"]
        let cells = rows.map { row in
            [row.role, row.package, row.peer, row.state, "\(row.expiresIn)s", row.lastCSeq.map(String.init) ?? "-"]
        }
        let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        func line(_ values: [String]) -> String {
            values.enumerated().map { index, value in
                index == values.count - 1 ? value : value.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + cells.map(line)).joined(separator: "\n")
    }
}

/// `smf state set --package P TEXT`: the node's own state in an event package; its watchers get a NOTIFY.
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Set the running node's state in an event package.",
        subcommands: [StateSetCommand.self]
    )
}

struct StateSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set the node's state in a package (e.g. m2m-alarm); every watcher gets a NOTIFY with it.",
        discussion: "Without TEXT (or with --clear) the state is cleared: watchers get a NOTIFY without body."
    )

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: ArgumentHelp("Event package, e.g. m2m-alarm.", valueName: "name"))
    var package: String

    @Argument(help: ArgumentHelp("The new state.", valueName: "text"))
    var text: String?

    @Option(name: .long, help: ArgumentHelp("Content-Type of the state.", valueName: "type"))
    var contentType: String = "text/plain"

    @Flag(name: .long, help: "Clear the state.")
    var clear = false

    func validate() throws {
        guard !package.isEmpty else { throw ValidationError("--package must name an event package, e.g. m2m-alarm") }
        if clear && text != nil { throw ValidationError("give either TEXT or --clear, not both") }
        if !clear && text == nil { throw ValidationError("give the new state as TEXT, or --clear") }
        guard contentType.contains("/") else { throw ValidationError("--content-type must be type/subtype, not '\(contentType)'") }
    }

    func run() async throws {
        let arguments = StateSetArguments(package: package, text: clear ? nil : text, contentType: contentType)
        let result = try await node.withControlClient(command: "smf state set") { client in
            try await client.call("state.set", arguments: arguments, as: StateSetResult.self)
        }
        print("\(result.package) state of \(result.resource) \(clear ? "cleared" : "set"); \(result.watchers) watcher\(result.watchers == 1 ? "" : "s")")
    }
}
