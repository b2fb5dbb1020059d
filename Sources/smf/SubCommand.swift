import ArgumentParser
import ControlChannel
import Foundation
import SMFNode

/// `smf sub create|join|leave|list|members|approve|remove`: sub-communities of a community (docs/community.md).
struct SubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Create, join and manage sub-communities through the running node.",
        subcommands: [
            SubCreateCommand.self, SubJoinCommand.self, SubLeaveCommand.self, SubListCommand.self, SubMembersCommand.self,
            SubApproveCommand.self, SubRemoveCommand.self,
        ]
    )

    /// One line for a result: `joined surveillance/north (member)`, with delivery notes.
    static func describe(_ result: SubCommunityResult) -> String {
        var line: String
        switch result.outcome {
        case "created": line = "created sub-community \(result.name) in \(result.community)"
        case "member": line = "member of \(result.name)"
        case "pending": line = "requested to join \(result.name)"
        case "approved": line = "approved \(result.member ?? "?") in \(result.name)"
        case "removed": line = "removed \(result.member ?? "?") from \(result.name)"
        case "left": line = "left \(result.name)"
        default: line = "\(result.outcome) \(result.name)"
        }
        if let note = result.note { line += " (\(note))" }
        if result.delivered == false { line += "; not delivered yet" }
        return line
    }
}

/// `--community NAME` and the sub-community's name, shared by most `smf sub` commands.
struct SubTarget: ParsableArguments {
    @OptionGroup var community: CommunityOption

    @Argument(help: ArgumentHelp("The sub-community, e.g. surveillance/north-street.", valueName: "name"))
    var name: String
}

struct SubCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a sub-community with this node as its owner.",
        discussion: """
            --policy open admits every member who asks; invite, only members an owner invited; approval, each \
            request waits for an owner's `smf sub approve`. The charter is signed by this node and stored in the \
            community's ring.
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: SubTarget

    @Option(name: .long, help: ArgumentHelp("open, invite or approval.", valueName: "policy"))
    var policy: String = "open"

    func validate() throws {
        guard ["open", "invite", "approval"].contains(policy) else { throw ValidationError("--policy must be open, invite or approval, not '\(policy)'") }
    }

    func run() async throws {
        let arguments = SubCreateArguments(community: target.community.community, name: target.name, policy: policy)
        let result = try await node.withControlClient(command: "smf sub create") { client in
            try await client.call("sub.create", arguments: arguments, as: SubCommunityResult.self)
        }
        print(SubCommand.describe(result))
    }
}

struct SubJoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Ask an owner to admit this node to a sub-community.",
        discussion: "Prints 'member of NAME' once admitted, or 'requested to join NAME' while an owner has to approve."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: SubTarget

    func run() async throws {
        let arguments = SubArguments(community: target.community.community, name: target.name)
        let result = try await node.withControlClient(command: "smf sub join") { client in
            try await client.call("sub.join", arguments: arguments, as: SubCommunityResult.self)
        }
        print(SubCommand.describe(result))
    }
}

struct SubLeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leave", abstract: "Leave a sub-community; its owners are told.")

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: SubTarget

    func run() async throws {
        let arguments = SubArguments(community: target.community.community, name: target.name)
        let result = try await node.withControlClient(command: "smf sub leave") { client in
            try await client.call("sub.leave", arguments: arguments, as: SubCommunityResult.self)
        }
        print(SubCommand.describe(result))
    }
}

struct SubListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the sub-communities: name, policy, owners, and this node's place (owner, member, pending, -)."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var community: CommunityOption

    @Flag(name: .long, help: "Print the raw JSON answer.")
    var json = false

    func run() async throws {
        let rows = try await node.withControlClient(command: "smf sub list") { client in
            try await client.call("sub.list", arguments: CommunityArguments(community: community.community), as: [SubCommunityRow].self)
        }
        if json {
            print(try ControlValue(encoding: rows).jsonText(pretty: true))
            return
        }
        print(formatTable([["NAME", "POLICY", "OWNERS", "THIS-NODE"]] + rows.map { [$0.name, $0.policy ?? "?", "\($0.owners.count)", $0.state] }))
    }
}

struct SubMembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "List a sub-community's members (and, on an owner's node, the requests waiting for approval)."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: SubTarget

    @Flag(name: .long, help: "Print the raw JSON answer.")
    var json = false

    func run() async throws {
        let arguments = SubArguments(community: target.community.community, name: target.name)
        let rows = try await node.withControlClient(command: "smf sub members") { client in
            try await client.call("sub.members", arguments: arguments, as: [SubCommunityMemberRow].self)
        }
        if json {
            print(try ControlValue(encoding: rows).jsonText(pretty: true))
            return
        }
        print(formatTable([["NODE-ID", "ROLE", "STATE", "CONTACT"]] + rows.map { [$0.nodeID, $0.role, $0.state, $0.contact ?? "-"] }))
    }
}

struct SubApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a pending request (owners): the member's certificate is issued and sent to it."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: SubTarget

    @Argument(help: ArgumentHelp("The requester's Node-ID (or its first 6+ hex digits).", valueName: "member"))
    var member: String

    func run() async throws {
        let arguments = SubArguments(community: target.community.community, name: target.name, member: member)
        let result = try await node.withControlClient(command: "smf sub approve") { client in
            try await client.call("sub.approve", arguments: arguments, as: SubCommunityResult.self)
        }
        print(SubCommand.describe(result))
    }
}

struct SubRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a member (owners): a signed removal, sent to it and stored in the ring."
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var target: SubTarget

    @Argument(help: ArgumentHelp("The member's Node-ID (or its first 6+ hex digits).", valueName: "member"))
    var member: String

    func run() async throws {
        let arguments = SubArguments(community: target.community.community, name: target.name, member: member)
        let result = try await node.withControlClient(command: "smf sub remove") { client in
            try await client.call("sub.remove", arguments: arguments, as: SubCommunityResult.self)
        }
        print(SubCommand.describe(result))
    }
}
