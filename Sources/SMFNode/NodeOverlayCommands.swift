import ControlChannel
import Foundation
import Overlay
import OverlaySIP

extension ControlError.Code {
    /// The overlay could not carry out the operation (not joined, lookup failed, record refused).
    public static let overlayFailed = ControlError.Code("smf.overlay")
    /// No record or registration exists under the name asked for.
    public static let notFound = ControlError.Code("smf.not-found")
}

/// One peer in `overlay.status`.
public struct OverlayPeerInfo: Codable, Sendable, Equatable {
    /// The Node-ID, 40 hex digits.
    public var id: String
    /// Where it is reached, e.g. `127.0.0.1:5060`.
    public var address: String

    public init(id: String, address: String) {
        self.id = id
        self.address = address
    }

    init(_ peer: OverlayPeer) {
        self.init(id: peer.id.description, address: peer.address.value)
    }
}

/// The answer to `overlay.status`: what `smf overlay status` prints.
public struct OverlayStatusReport: Codable, Sendable, Equatable {
    /// This node.
    public var node: OverlayPeerInfo
    /// `idle`, `joining`, `joined` or `left`.
    public var phase: String
    public var predecessor: OverlayPeerInfo?
    /// Nearest first.
    public var successors: [OverlayPeerInfo]
    /// The distinct fingers, in table order.
    public var fingers: [OverlayPeerInfo]
    /// Records held as owner or replica (tombstones included).
    public var recordCount: Int
    /// The node's own user registration.
    public var addressOfRecord: String

    public init(
        node: OverlayPeerInfo, phase: String, predecessor: OverlayPeerInfo?, successors: [OverlayPeerInfo], fingers: [OverlayPeerInfo],
        recordCount: Int, addressOfRecord: String
    ) {
        self.node = node
        self.phase = phase
        self.predecessor = predecessor
        self.successors = successors
        self.fingers = fingers
        self.recordCount = recordCount
        self.addressOfRecord = addressOfRecord
    }
}

/// `overlay.put` arguments: a generic record `value` under Resource-ID(`name`), living `ttlSeconds`.
public struct OverlayPutArguments: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
    public var ttlSeconds: Int
    /// The community whose ring to use; nil: the node's default ring.
    public var community: String?

    public init(name: String, value: String, ttlSeconds: Int = 86_400, community: String? = nil) {
        self.name = name
        self.value = value
        self.ttlSeconds = ttlSeconds
        self.community = community
    }
}

/// `overlay.put` answer.
public struct OverlayPutResult: Codable, Sendable, Equatable {
    public var name: String
    /// SHA-1 of the name, 40 hex digits.
    public var resourceID: String
    public var sequence: UInt64

    public init(name: String, resourceID: String, sequence: UInt64) {
        self.name = name
        self.resourceID = resourceID
        self.sequence = sequence
    }
}

/// `overlay.get` arguments.
public struct OverlayGetArguments: Codable, Sendable, Equatable {
    public var name: String
    /// The community whose ring to use; nil: the node's default ring.
    public var community: String?

    public init(name: String, community: String? = nil) {
        self.name = name
        self.community = community
    }
}

/// One record in the `overlay.get` answer.
public struct OverlayRecordInfo: Codable, Sendable, Equatable {
    /// `user`, `service`, `membership` or `generic`.
    public var kind: String
    /// The value as UTF-8 text (invalid sequences replaced).
    public var value: String
    /// The Node-ID of the node that signed it.
    public var owner: String
    public var sequence: UInt64

    public init(kind: String, value: String, owner: String, sequence: UInt64) {
        self.kind = kind
        self.value = value
        self.owner = owner
        self.sequence = sequence
    }
}

/// `overlay.lookup` arguments and answer.
public struct OverlayLookupArguments: Codable, Sendable, Equatable {
    public var aor: String

    public init(aor: String) {
        self.aor = aor
    }
}

public struct OverlayLookupResult: Codable, Sendable, Equatable {
    public var aor: String
    public var contacts: [String]

    public init(aor: String, contacts: [String]) {
        self.aor = aor
        self.contacts = contacts
    }
}

extension SMFNode {
    /// Registers the overlay commands: `overlay.status`, `overlay.put`, `overlay.get`, `overlay.lookup`; status, put and
    /// get take `community` to use that community's ring instead of the default one.
    func registerOverlayCommands() throws(ControlError) {
        let slot = self.runtimeSlot
        let communities = communitySlot
        @Sendable func overlay() throws -> NodeOverlay {
            guard let runtime = slot.current else { throw ControlError(.notRunning, "the node's overlay has not started") }
            return runtime.overlay
        }
        /// The ring of `community` (`--community`), else the node's default ring.
        @Sendable func ring(_ community: String?) async throws -> OverlayNode {
            guard let community else { return try overlay().node }
            guard let nodeCommunities = communities.current else { throw ControlError(.notRunning, "the node's communities have not started") }
            return try await nodeCommunities.ring(of: community)
        }

        try control.register("overlay.status", arguments: CommunityArguments.self, summary: "Node-ID, phase, predecessor, successors, fingers, record count") {
            args, _ in
            let overlay = try overlay()
            return Self.report(try await ring(args.community).status(), addressOfRecord: overlay.addressOfRecord)
        }

        try control.register("overlay.put", arguments: OverlayPutArguments.self, summary: "store a signed record under Resource-ID(name)") {
            args, _ in
            let overlay = try overlay()
            guard !args.name.isEmpty else { throw ControlError(.badArgument, "the record name is empty") }
            guard args.ttlSeconds > 0 else { throw ControlError(.badArgument, "the lifetime must be positive, not \(args.ttlSeconds) s") }
            let value = Array(args.value.utf8)
            guard value.count <= ResourceRecord.maximumValueSize else {
                throw ControlError(.badArgument, "the value is \(value.count) bytes; the overlay stores at most \(ResourceRecord.maximumValueSize)")
            }
            let target = try await ring(args.community)
            let sequence = await overlay.nextSequence()
            let expiry = await target.now.advanced(by: .seconds(args.ttlSeconds))
            let record = ResourceRecord.signed(kind: .generic, name: args.name, value: value, sequence: sequence, expiry: expiry, by: target.identity)
            do throws(OverlaySIPError) {
                try await target.put(record)
            } catch {
                throw ControlError(.overlayFailed, "cannot store '\(args.name)': \(error.detail)")
            }
            return OverlayPutResult(name: args.name, resourceID: record.resourceID.description, sequence: sequence)
        }

        try control.register("overlay.get", arguments: OverlayGetArguments.self, summary: "the live records under Resource-ID(name)") { args, _ in
            let target = try await ring(args.community)
            let records: [ResourceRecord]
            do throws(OverlaySIPError) {
                records = try await target.get(args.name)
            } catch {
                throw ControlError(.overlayFailed, "cannot fetch '\(args.name)': \(error.detail)")
            }
            guard !records.isEmpty else { throw ControlError(.notFound, "no record named '\(args.name)' in the overlay") }
            return records.map { OverlayRecordInfo(kind: "\($0.kind)", value: String(decoding: $0.value, as: UTF8.self), owner: $0.owner.description, sequence: $0.sequence) }
        }

        try control.register("overlay.lookup", arguments: OverlayLookupArguments.self, summary: "the contacts of a user registration") { args, _ in
            let overlay = try overlay()
            let aor = Self.normalizedAoR(args.aor)
            let contacts: [String]
            do throws(OverlaySIPError) {
                contacts = try await overlay.node.lookup(aor: aor)
            } catch {
                throw ControlError(.overlayFailed, "cannot look up \(aor): \(error.detail)")
            }
            guard !contacts.isEmpty else { throw ControlError(.notFound, "\(aor) is not registered in the overlay") }
            return OverlayLookupResult(aor: aor, contacts: contacts)
        }
    }

    /// `alice@example.org` → `sip:alice@example.org`; a URI with a scheme stays as given.
    static func normalizedAoR(_ text: String) -> String {
        let lowered = text.lowercased()
        return lowered.hasPrefix("sip:") || lowered.hasPrefix("sips:") ? text : "sip:\(text)"
    }

    static func report(_ status: OverlayStatus, addressOfRecord: String) -> OverlayStatusReport {
        OverlayStatusReport(
            node: OverlayPeerInfo(status.me), phase: "\(status.phase)", predecessor: status.predecessor.map(OverlayPeerInfo.init),
            successors: status.successors.map(OverlayPeerInfo.init), fingers: status.fingers.map(OverlayPeerInfo.init),
            recordCount: status.recordCount, addressOfRecord: addressOfRecord)
    }
}
