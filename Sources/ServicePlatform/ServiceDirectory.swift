// How the runtime finds nodes and providers: records in the community overlay (docs/overlay.md). The node
// implements ServiceDirectory over its NodeOverlay; tests use ServiceMemoryDirectory.

import Foundation
public import Overlay
import SIPSyntax

/// One record as the runtime reads it: its value and who stored it.
public struct ServiceDirectoryRecord: Sendable, Hashable {
    /// The record's value.
    public var value: [UInt8]
    /// The storing node (its Node-ID, as text); each owner has its own record under a name.
    public var owner: String

    public init(value: [UInt8], owner: String) {
        self.value = value
        self.owner = owner
    }
}

/// Put and get of overlay records, signed and stored by the node. The runtime stores
/// `node:<community>:<name>` (kind `.generic`: the node's address of record, then its area if any) and one ``Overlay/ServiceRegistration``
/// per offered type and scope (kind `.service`, `service:<community>/<sub-community>/<type>`), each again before
/// it expires.
///
/// Each community has its own overlay ring (docs/community.md), so every call names the community whose records it
/// reads or writes; a node outside any community keeps them in its default ring.
public protocol ServiceDirectory: Sendable {
    /// Stores (or replaces) this node's record `name` of `kind` for `lifetime` in `community`'s overlay.
    func put(kind: ResourceRecord.Kind, name: String, value: [UInt8], lifetime: Duration, in community: String) async throws
    /// Every live record named `name` of `kind` in `community`'s overlay, one per owner.
    func get(kind: ResourceRecord.Kind, name: String, in community: String) async throws -> [ServiceDirectoryRecord]
}

/// The names of the runtime's overlay records.
public enum ServiceRecordNames {
    /// The name of a node's record: `node:<community>:<name>`.
    public static func node(community: String, name: String) -> String { "node:\(community):\(name)" }

    /// The name of a type's provider records in a scope: `service:<community>/<sub-community>/<type>`.
    public static func providers(_ scope: ServiceScope, type: String) -> String {
        ServiceRegistration.resourceName(subcommunity: "\(scope.community)/\(scope.subcommunity)", serviceType: type)
    }
}

/// The value of a provider record: `contact\ncapacity`, and `\narea` when the node declared one, as
/// ``Overlay/ServiceRegistration`` writes and reads it.
enum ServiceProviderValue {
    static func encode(contact: String, capacity: Int, area: String?) -> [UInt8] {
        ServiceRegistration.value(contact: contact, capacity: capacity, area: area)
    }

    static func decode(_ value: [UInt8]) -> ServicePlacementChooser.Candidate? {
        ServiceRegistration.parseValue(value).map { ServicePlacementChooser.Candidate(host: $0.contact, capacity: $0.capacity, area: $0.area) }
    }
}

/// The value of a node record `node:<community>:<name>`: the node's address of record, and on a second line the area
/// it declared (`smf run --area`), if any. A one-line value (before areas) reads as a node with no area.
enum ServiceNodeValue {
    static func encode(addressOfRecord: String, area: String?) -> [UInt8] {
        Array(([addressOfRecord] + (area.map { [$0] } ?? [])).joined(separator: "\n").utf8)
    }

    static func decode(_ value: [UInt8]) -> (addressOfRecord: SIPURI, area: String?)? {
        let lines = String(decoding: value, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 1 || lines.count == 2, let uri = SIPURI(String(lines[0])) else { return nil }
        return (uri, lines.count == 2 && !lines[1].isEmpty ? String(lines[1]) : nil)
    }
}

/// A ``ServiceDirectory`` shared by the runtimes of one process (tests): records never expire.
public final class ServiceMemoryDirectory: ServiceDirectory, @unchecked Sendable {
    // Guarded by `lock`: (kind, name) → owner → value.
    private var records: [String: [String: [UInt8]]] = [:]
    private let lock = NSLock()
    private let owner: String
    private let shared: ServiceMemoryDirectory?

    /// A directory; `view(as:)` gives each runtime its own owner name over the same records.
    public init() {
        owner = ""
        shared = nil
    }

    private init(owner: String, shared: ServiceMemoryDirectory) {
        self.owner = owner
        self.shared = shared
    }

    /// The same records, stored under `owner`.
    public func view(as owner: String) -> ServiceMemoryDirectory {
        ServiceMemoryDirectory(owner: owner, shared: shared ?? self)
    }

    /// Drops every record `owner` stored (its node left).
    public func removeAll(of owner: String) {
        let base = shared ?? self
        base.lock.withLock {
            for key in base.records.keys { base.records[key]?[owner] = nil }
        }
    }

    public func put(kind: ResourceRecord.Kind, name: String, value: [UInt8], lifetime: Duration, in community: String) async throws {
        let base = shared ?? self
        let owner = self.owner
        base.lock.withLock { base.records["\(kind.rawValue) \(name)", default: [:]][owner] = value }
    }

    /// Records are told apart by their names, which carry the community; one process's runtimes share them.
    public func get(kind: ResourceRecord.Kind, name: String, in community: String) async throws -> [ServiceDirectoryRecord] {
        try await get(kind: kind, name: name)
    }

    /// Every record named `name` of `kind`, whatever the community.
    public func get(kind: ResourceRecord.Kind, name: String) async throws -> [ServiceDirectoryRecord] {
        let base = shared ?? self
        return base.lock.withLock {
            (base.records["\(kind.rawValue) \(name)"] ?? [:]).sorted { $0.key < $1.key }.map { ServiceDirectoryRecord(value: $0.value, owner: $0.key) }
        }
    }
}
