import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// `smf community create|invite|join|leave|members|revoke|list|watch`: the running node's communities
/// (docs/community.md, docs/cli.md).
struct CommunityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "community",
        abstract: "Create, join and manage communities through the running node.",
        subcommands: [
            CommunityCreateCommand.self, CommunityInviteCommand.self, CommunityJoinCommand.self, CommunityLeaveCommand.self,
            CommunityMembersCommand.self, CommunityRevokeCommand.self, CommunityListCommand.self, CommunityWatchCommand.self,
        ]
    )
}

/// `--community NAME`, for nodes in several communities.
struct CommunityOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The community (its name or the first digits of its ID); needed when the node is in several.", valueName: "name"))
    var community: String?
}

struct CommunityCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Found a community with this node as its owner.",
        discussion: """
            Creates the community's founding key (saved as <dir>/community-<id12>.key, mode 0600; keep it safe), the \
            node's owner certificate and the community's overlay ring, with this node alone in it. Prints the name, \
            ID, role and key file.
            """
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The community's name: 1-64 characters, no spaces, '/', ';' or ','.", valueName: "name"))
    var name: String

    func run() async throws {
        let summary = try await node.withControlClient(command: "smf community create") { client in
            try await client.call("community.create", arguments: CommunityCreateArguments(name: name), as: CommunitySummary.self)
        }
        print(CommunityListCommand.describe(summary))
    }
}

struct CommunityInviteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invite",
        abstract: "Issue an invitation: a signed, single-use token, printed alone on the last line.",
        discussion: """
            Only owners and admins may invite, and not above their own role. The token names this node as the peer \
            to join through. Give it to the person whose node should join: `smf community join TOKEN --bootstrap URI`.
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: CommunityOption

    @Option(name: .long, help: ArgumentHelp("The role the new member gets: owner, admin or member.", valueName: "role"))
    var role: String = "member"

    @Option(name: .long, help: ArgumentHelp("How long the token is accepted: e.g. 90s, 30m, 12h, 7d (default 24h).", valueName: "duration"))
    var expires: String = "24h"

    func validate() throws {
        guard ["owner", "admin", "member"].contains(role) else { throw ValidationError("--role must be owner, admin or member, not '\(role)'") }
        _ = try Self.seconds(expires)
    }

    /// `90s`, `30m`, `12h`, `7d` or a number of seconds.
    static func seconds(_ text: String) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text)
        var unit = 1
        if let last = text.last, let factor = units[last] {
            digits = digits.dropLast()
            unit = factor
        }
        guard let value = Int(digits), value > 0, value <= 3650 * 86_400 / unit else {
            throw ValidationError("--expires must be a positive duration such as 90s, 30m, 12h or 7d, not '\(text)'")
        }
        return value * unit
    }

    func run() async throws {
        let arguments = CommunityInviteArguments(community: community.community, role: role, expiresSeconds: try Self.seconds(expires))
        let invitation = try await node.withControlClient(command: "smf community invite") { client in
            try await client.call("community.invite", arguments: arguments, as: CommunityInvitation.self)
        }
        let expiry = Date(timeIntervalSince1970: Double(invitation.expiresAt) / 1000)
        print("invitation to \"\(invitation.community)\" (\(invitation.id.prefix(12))) as \(invitation.role), expires \(expiry.iso8601Text)")
        print(invitation.token)
    }
}

struct CommunityJoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Redeem an invitation: the bootstrap peer admits this node, which then joins the community's ring.",
        discussion: """
            The node checks the token first (form, expiry, signature) and says exactly what is wrong with a \
            malformed, expired or altered one. The bootstrap peer checks it again, with the invitation's single-use \
            nonce, and answers with this node's certificate; a peer of another community says so. Exits 0 once the \
            membership is stored (it waits up to --wait seconds for the ring), 1 when refused.
            """
    )

    @OptionGroup var node: NodeOptions

    @Argument(help: ArgumentHelp("The invitation token (smf1.…).", valueName: "token"))
    var token: String

    @Option(
        name: .long,
        help: ArgumentHelp("The member to join through, as host:port or a SIP URI (default: the peer the token names).", valueName: "uri"))
    var bootstrap: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the community's ring to admit the node.", valueName: "seconds"))
    var wait: Int = 20

    func validate() throws {
        guard (0...300).contains(wait) else { throw ValidationError("--wait must be between 0 and 300 seconds, not \(wait)") }
    }

    func run() async throws {
        let arguments = CommunityJoinArguments(token: token, bootstrap: bootstrap, waitSeconds: wait)
        let summary = try await node.withControlClient(command: "smf community join") { client in
            try await client.call("community.join", arguments: arguments, as: CommunitySummary.self)
        }
        print("joined community \"\(summary.name)\" (\(summary.id.prefix(12))) as \(summary.role); ring: \(summary.ring)")
    }
}

struct CommunityLeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Leave a community: tell its members, leave its ring, forget what the node stored for it.",
        discussion: "A founding key file stays where it is."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: CommunityOption

    func run() async throws {
        let summary = try await node.withControlClient(command: "smf community leave") { client in
            try await client.call("community.leave", arguments: CommunityArguments(community: community.community), as: CommunitySummary.self)
        }
        var line = "left community \"\(summary.name)\" (\(summary.id.prefix(12)))"
        if let key = summary.foundingKey { line += "; its founding key stays in \(key)" }
        print(line)
    }
}

struct CommunityMembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "List the members: Node-ID, role, contact and the services they offer.",
        discussion: "This node is marked with '*'. Revoked members are not listed."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: CommunityOption

    @Flag(name: .long, help: "Print the raw JSON answer.")
    var json = false

    func run() async throws {
        let rows = try await node.withControlClient(command: "smf community members") { client in
            try await client.call("community.members", arguments: CommunityArguments(community: community.community), as: [CommunityMemberRow].self)
        }
        if json {
            print(try ControlValue(encoding: rows).jsonText(pretty: true))
            return
        }
        print(Self.format(rows))
    }

    static func format(_ rows: [CommunityMemberRow]) -> String {
        let table = [["NODE-ID", "ROLE", "CONTACT", "SERVICES"]]
            + rows.map { [($0.isSelf ? "*" : " ") + $0.nodeID, $0.role, $0.contact ?? "-", $0.services.joined(separator: ",")] }
        return formatTable(table)
    }
}

struct CommunityRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a member (owners and admins); every member refuses it within one stabilisation period.",
        discussion: "MEMBER is its Node-ID or the first digits of it (at least 6), as `smf community members` shows."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: CommunityOption

    @Argument(help: ArgumentHelp("The member's Node-ID (or its first 6+ hex digits).", valueName: "member"))
    var member: String

    @Option(name: .long, help: ArgumentHelp("Why, for the other members.", valueName: "text"))
    var reason: String = ""

    func run() async throws {
        let arguments = CommunityRevokeArguments(community: community.community, member: member, reason: reason)
        let row = try await node.withControlClient(command: "smf community revoke") { client in
            try await client.call("community.revoke", arguments: arguments, as: CommunityMemberRow.self)
        }
        print("revoked \(row.nodeID) (\(row.role))")
    }
}

struct CommunityListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the communities this node belongs to: name, ID, role, ring, members."
    )

    @OptionGroup var node: NodeOptions

    @Flag(name: .long, help: "Print the raw JSON answer.")
    var json = false

    func run() async throws {
        let rows = try await node.withControlClient(command: "smf community list") { client in
            try await client.call("community.list", arguments: [String: String](), as: [CommunitySummary].self)
        }
        if json {
            print(try ControlValue(encoding: rows).jsonText(pretty: true))
            return
        }
        print(formatTable([["NAME", "ID", "ROLE", "RING", "MEMBERS"]] + rows.map { [$0.name, String($0.id.prefix(12)), $0.role, $0.ring, "\($0.members)"] }))
    }

    static func describe(_ summary: CommunitySummary) -> String {
        var lines = [
            "community:    \(summary.name)",
            "id:           \(summary.id)",
            "role:         \(summary.role)",
            "ring:         \(summary.ring)",
            "events:       \(summary.resource)",
        ]
        if let key = summary.foundingKey { lines.append("founding key: \(key) (mode 0600; keep it safe)") }
        return lines.joined(separator: "\n")
    }
}

struct CommunityWatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print who joins and leaves: one line per membership event of the community (package smf-membership).",
        discussion: """
            Subscribes, through the node, to the community's membership events at this node (or at --at URI, a \
            member's node); each line is `<kind> community=… member=… [sub=…] [role=…] [by=…] at=<ms> [reason=…]`. \
            With --sub, only that sub-community's events (the node must be a member of it). Runs until Ctrl-C or \
            after --count events.
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: CommunityOption

    @Option(name: .long, help: ArgumentHelp("Watch a sub-community's events.", valueName: "name"))
    var sub: String?

    @Option(name: .long, help: ArgumentHelp("Another member's node, as host:port.", valueName: "host:port"))
    var at: String?

    @Option(name: .long, help: ArgumentHelp("Exit after this many events (the first NOTIFY included).", valueName: "n"))
    var count: Int?

    func run() async throws {
        let name = community.community
        let limit = count
        let subName = sub
        let peer = at
        let refused = try await node.withControlClient(command: "smf community watch") { client -> String? in
            let summaries = try await client.call("community.list", arguments: [String: String](), as: [CommunitySummary].self)
            let live = summaries.filter { $0.ring != "invalid" }
            guard let summary = name.map({ wanted in live.first { $0.name == wanted || $0.id.hasPrefix(wanted.lowercased()) } }) ?? (live.count == 1 ? live.first : nil)
            else {
                return "name the community with --community (this node is in: \(live.map(\.name).joined(separator: ", ")))"
            }
            var uri = summary.resource
            if let subName { uri = uri.replacingOccurrences(of: "@", with: ".\(subName)@") }
            if let peer, let at = uri.firstIndex(of: "@") { uri = String(uri[...at]) + peer }
            let events = try await client.stream("presence.watch", try ControlValue(encoding: WatchArguments(uri: uri, package: "smf-membership")))
            var seen = 0
            for try await value in events {
                guard let event = try? value.decode(WatchEvent.self) else { continue }
                if event.kind == "terminated" { return event.state.hasPrefix("refused") ? "subscription \(event.state)" : nil }
                if let body = event.body { printLine(body) } else { printLine("(no event yet)") }
                seen += 1
                if let limit, seen >= limit { return nil }
            }
            return nil
        }
        if let refused {
            FileHandle.standardError.write(Data("smf community watch: \(refused)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Columns separated by two spaces, each as wide as its widest cell.
func formatTable(_ rows: [[String]]) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

extension Date {
    /// `2026-11-23T08:00:00Z`.
    var iso8601Text: String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: self)
    }
}
