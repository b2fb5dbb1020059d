import Community
import ControlChannel
import Foundation
import Logging
import NIOCore
import Overlay
import OverlaySIP
import SIPEndpoint
import SIPEvents
import SIPSyntax
import SIPTransport
import Storage

/// `community.create` arguments.
public struct CommunityCreateArguments: Codable, Sendable, Equatable {
    public var name: String

    public init(name: String) {
        self.name = name
    }
}

/// Arguments naming a community (nil: the node's only one).
public struct CommunityArguments: Codable, Sendable, Equatable {
    public var community: String?

    public init(community: String? = nil) {
        self.community = community
    }
}

/// `community.invite` arguments.
public struct CommunityInviteArguments: Codable, Sendable, Equatable {
    public var community: String?
    /// `owner`, `admin` or `member`.
    public var role: String
    public var expiresSeconds: Int

    public init(community: String? = nil, role: String = "member", expiresSeconds: Int = 86_400) {
        self.community = community
        self.role = role
        self.expiresSeconds = expiresSeconds
    }
}

/// `community.join` arguments.
public struct CommunityJoinArguments: Codable, Sendable, Equatable {
    public var token: String
    /// The peer to send the join request to and join the ring through; nil: the token's first bootstrap hint.
    public var bootstrap: String?
    /// How long to wait for the ring to admit the node before answering.
    public var waitSeconds: Int

    public init(token: String, bootstrap: String? = nil, waitSeconds: Int = 20) {
        self.token = token
        self.bootstrap = bootstrap
        self.waitSeconds = waitSeconds
    }
}

/// `community.revoke` arguments.
public struct CommunityRevokeArguments: Codable, Sendable, Equatable {
    public var community: String?
    /// The member's Node-ID, or its first digits (at least 6).
    public var member: String
    public var reason: String

    public init(community: String? = nil, member: String, reason: String = "") {
        self.community = community
        self.member = member
        self.reason = reason
    }
}

/// `sub.create` arguments.
public struct SubCreateArguments: Codable, Sendable, Equatable {
    public var community: String?
    public var name: String
    /// `open`, `invite` or `approval`.
    public var policy: String

    public init(community: String? = nil, name: String, policy: String = "open") {
        self.community = community
        self.name = name
        self.policy = policy
    }
}

/// Arguments naming a sub-community, and for `sub.approve` / `sub.remove` a member.
public struct SubArguments: Codable, Sendable, Equatable {
    public var community: String?
    public var name: String
    /// The member's Node-ID or its first digits (`sub.approve`, `sub.remove`).
    public var member: String?

    public init(community: String? = nil, name: String, member: String? = nil) {
        self.community = community
        self.name = name
        self.member = member
    }
}

extension SMFNode {
    /// Registers the community commands: `community.*` and `sub.*` (docs/cli.md `smf community`, `smf sub`).
    func registerCommunityCommands() throws(ControlError) {
        let slot = communitySlot
        @Sendable func communities() throws -> NodeCommunities {
            guard let communities = slot.current else { throw ControlError(.notRunning, "the node's communities have not started") }
            return communities
        }

        try control.register("community.create", arguments: CommunityCreateArguments.self, summary: "found a community with this node as owner") {
            args, _ in
            try await communities().create(args.name)
        }
        try control.register("community.invite", arguments: CommunityInviteArguments.self, summary: "issue a single-use invitation token") { args, _ in
            guard let role = MemberRole(rawValue: args.role) else {
                throw ControlError(.badArgument, "role must be owner, admin or member, not '\(args.role)'")
            }
            guard args.expiresSeconds > 0 else { throw ControlError(.badArgument, "the invitation must last a positive time, not \(args.expiresSeconds) s") }
            return try await communities().invite(role: role, expiresIn: .seconds(args.expiresSeconds), community: args.community)
        }
        try control.register("community.join", arguments: CommunityJoinArguments.self, summary: "redeem an invitation at a member and join the ring") {
            args, _ in
            try await communities().join(token: args.token, bootstrap: args.bootstrap, wait: .seconds(max(0, min(args.waitSeconds, 300))))
        }
        try control.register("community.leave", arguments: CommunityArguments.self, summary: "leave a community and forget it") { args, _ in
            try await communities().leave(community: args.community)
        }
        try control.register("community.members", arguments: CommunityArguments.self, summary: "members, roles, contacts and services") {
            args, _ in
            try await communities().members(community: args.community)
        }
        try control.register("community.revoke", arguments: CommunityRevokeArguments.self, summary: "revoke a member; every member learns it") {
            args, _ in
            try await communities().revoke(member: args.member, reason: args.reason, community: args.community)
        }
        try control.register("community.list", arguments: NoArguments.self, summary: "the communities this node belongs to") { _, _ in
            try await communities().list()
        }

        try control.register("sub.create", arguments: SubCreateArguments.self, summary: "create a sub-community with this node as owner") {
            args, _ in
            guard let policy = SubCommunityPolicy(rawValue: args.policy) else {
                throw ControlError(.badArgument, "policy must be open, invite or approval, not '\(args.policy)'")
            }
            return try await communities().createSub(args.name, policy: policy, community: args.community)
        }
        try control.register("sub.join", arguments: SubArguments.self, summary: "ask an owner to admit this node to a sub-community") { args, _ in
            try await communities().joinSub(args.name, community: args.community)
        }
        try control.register("sub.leave", arguments: SubArguments.self, summary: "leave a sub-community") { args, _ in
            try await communities().leaveSub(args.name, community: args.community)
        }
        try control.register("sub.list", arguments: CommunityArguments.self, summary: "the sub-communities of a community") { args, _ in
            try await communities().listSubs(community: args.community)
        }
        try control.register("sub.members", arguments: SubArguments.self, summary: "members and pending requests of a sub-community") {
            args, _ in
            try await communities().subMembers(args.name, community: args.community)
        }
        try control.register("sub.approve", arguments: SubArguments.self, summary: "approve a pending request (owners)") { args, _ in
            guard let member = args.member else { throw ControlError(.badArgument, "name the member to approve") }
            return try await communities().approveSub(args.name, member: member, community: args.community)
        }
        try control.register("sub.remove", arguments: SubArguments.self, summary: "remove a member (owners)") { args, _ in
            guard let member = args.member else { throw ControlError(.badArgument, "name the member to remove") }
            return try await communities().removeFromSub(args.name, member: member, community: args.community)
        }
    }
}
