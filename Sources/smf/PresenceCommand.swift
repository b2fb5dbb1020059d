import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// `smf presence publish|watch`: the node's own presence and watching others' (RFC 3856).
struct PresenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Publish the node's presence or watch a presentity.",
        subcommands: [PresencePublishCommand.self, PresenceWatchCommand.self]
    )
}

/// `smf presence publish --status open|closed …`.
struct PresencePublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Set the running node's own presence; its watchers get a NOTIFY.",
        discussion: """
            The node is its own presence agent: the document (PIDF, RFC 3863) goes to every subscriber of its address \
            of record, and is PUBLISHed at the registrar when the node runs with --registrar. Exits 1 when the node \
            refuses it or is not running.
            """
    )

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: ArgumentHelp("Basic status: open or closed.", valueName: "open|closed"))
    var status: String

    @Option(name: .long, help: ArgumentHelp("A note for people.", valueName: "text"))
    var note: String?

    @Option(
        name: .long, parsing: .singleValue,
        help: ArgumentHelp("An RPID activity (RFC 4480), e.g. busy, away, on-the-phone, meeting. Repeatable.", valueName: "activity"))
    var activity: [String] = []

    @Option(name: .long, help: ArgumentHelp("WGS 84 position as LAT,LON in degrees, e.g. 48.85,2.35.", valueName: "lat,lon"))
    var location: String?

    func validate() throws {
        guard status == "open" || status == "closed" else {
            throw ValidationError("--status must be open or closed, not '\(status)'")
        }
        _ = try coordinates()
        for token in activity where token.isEmpty || token.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "&" }) {
            throw ValidationError("--activity '\(token)' is not an activity name (e.g. busy, away, on-the-phone)")
        }
    }

    private func coordinates() throws -> (Double, Double)? {
        try location.map { try parseLocation($0, option: "--location") }
    }

    func run() async throws {
        let position = try coordinates()
        let arguments = PresencePublishArguments(
            status: status, note: note, activities: activity, latitude: position?.0, longitude: position?.1)
        let result = try await node.withControlClient(command: "smf presence publish") { client in
            try await client.call("presence.publish", arguments: arguments, as: PresencePublishResult.self)
        }
        var line = "published \(status) for \(result.entity) to \(result.watchers) watcher\(result.watchers == 1 ? "" : "s")"
        if let registrar = result.registrar { line += " and at \(registrar)" }
        print(line)
    }
}

/// `smf presence watch URI`.
struct PresenceWatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Subscribe to a URI through the running node and print each NOTIFY.",
        discussion: """
            Prints one line per NOTIFY: the subscription state, then status, notes, activities and location for \
            presence, or the raw body for other packages. Runs until Ctrl-C, until the subscription ends, or after \
            --count notifications. Exits 0 then, 1 when the subscription is refused or the node is not running.
            """
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The presentity or resource, e.g. sip:alice@127.0.0.1:5060.", valueName: "uri"))
    var uri: String

    @Option(name: .long, help: ArgumentHelp("Event package.", valueName: "name"))
    var package: String = "presence"

    @Option(name: .long, help: ArgumentHelp("Exit after this many notifications.", valueName: "n"))
    var count: Int?

    @Option(name: .long, help: ArgumentHelp("Subscription duration asked for, in seconds.", valueName: "seconds"))
    var expires: Int = 3600

    @Flag(name: .long, help: "Print each event as a JSON line.")
    var json = false

    func validate() throws {
        guard uri.hasPrefix("sip:") || uri.hasPrefix("sips:") else {
            throw ValidationError("'\(uri)' is not a sip: URI, e.g. sip:alice@127.0.0.1:5060")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, not \(count)") }
        guard expires > 0 else { throw ValidationError("--expires must be positive, not \(expires)") }
        guard !package.isEmpty, !package.contains(where: { $0.isWhitespace || $0 == ";" }) else {
            throw ValidationError("--package '\(package)' is not an event package name")
        }
    }

    func run() async throws {
        let arguments = WatchArguments(uri: uri, package: package, expires: expires)
        let limit = count
        let asJSON = json
        let refused = try await node.withControlClient(command: "smf presence watch") { client -> String? in
            let events = try await client.stream("presence.watch", try ControlValue(encoding: arguments))
            var seen = 0
            for try await value in events {
                if asJSON { printLine(value.jsonText(pretty: false)) }
                guard let event = try? value.decode(WatchEvent.self) else { continue }
                if !asJSON {
                    printLine(Self.format(event, uri: arguments.uri, package: arguments.package))
                }
                if event.kind == "terminated" {
                    return event.state.hasPrefix("refused") ? event.state : nil
                }
                seen += 1
                if let limit, seen >= limit { return nil }
            }
            return nil
        }
        if let refused {
            FileHandle.standardError.write(Data("smf presence watch: \(uri): subscription \(refused)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// One line per event: `sip:alice@h presence active;expires=3600: closed note="away" activities=busy location=48.85,2.35`.
    static func format(_ event: WatchEvent, uri: String, package: String) -> String {
        let head = "\(uri) \(package)"
        if event.kind == "terminated" { return "\(head) ended: \(event.state)" }
        if let presence = event.presence {
            var parts = [presence.status ?? "unknown"]
            for note in presence.notes { parts.append("note=\"\(note)\"") }
            if !presence.activities.isEmpty { parts.append("activities=\(presence.activities.joined(separator: ","))") }
            if let latitude = presence.latitude, let longitude = presence.longitude { parts.append("location=\(latitude),\(longitude)") }
            return "\(head) \(event.state): \(parts.joined(separator: " "))"
        }
        guard let body = event.body else { return "\(head) \(event.state): (no body)" }
        return "\(head) \(event.state): \(body)"
    }
}
