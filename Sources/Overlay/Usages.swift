/// A user registration: an AoR bound to contact URIs (seed 001: REGISTER stored in the DHT).
///
/// Stored as a ``ResourceRecord`` of kind `.user` named `user:<aor>`; the value is the contacts,
/// one per line.
public struct UserRegistration: Hashable, Sendable {
    /// The address of record, e.g. `sip:alice@example.org`.
    public var aor: String
    /// Where the user can be reached.
    public var contacts: [String]

    /// Creates a registration.
    public init(aor: String, contacts: [String]) {
        self.aor = aor
        self.contacts = contacts
    }

    /// The resource name of an AoR.
    public static func resourceName(aor: String) -> String { "user:\(aor)" }

    /// The Resource-ID of an AoR.
    public static func resourceID(aor: String) -> ResourceID { ResourceID(name: resourceName(aor: aor)) }

    /// The signed record for this registration.
    public func record(sequence: UInt64, expiry: OverlayInstant, by identity: NodeIdentity) -> ResourceRecord {
        .signed(
            kind: .user,
            name: Self.resourceName(aor: aor),
            value: Array(contacts.joined(separator: "\n").utf8),
            sequence: sequence,
            expiry: expiry,
            by: identity
        )
    }

    /// Reads a registration from a `.user` record; nil for other records.
    public init?(record: ResourceRecord) {
        guard record.kind == .user, !record.isRemoval, record.name.hasPrefix("user:") else { return nil }
        aor = String(record.name.dropFirst("user:".count))
        contacts = String(decoding: record.value, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Merges the registrations found for one AoR (several nodes may register it), newest contacts first.
    public static func contacts(in records: [ResourceRecord]) -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for record in records.sorted(by: { $0.sequence > $1.sequence }) {
            for contact in UserRegistration(record: record)?.contacts ?? [] where seen.insert(contact).inserted {
                result.append(contact)
            }
        }
        return result
    }
}

/// A service provider within a sub-community: which node offers a service type, where, and how much.
///
/// Each provider stores its own ``ResourceRecord`` of kind `.service` named
/// `service:<subcommunity>/<type>`, so a lookup of the name returns every provider. The record's value is
/// `contact\ncapacity`, and `contact\ncapacity\narea` when the provider declared the area it is in (a street, a
/// feeder: `smf run --area`); both forms are read.
public struct ServiceRegistration: Hashable, Sendable {
    /// The sub-community, e.g. `surveillance/north-street`.
    public var subcommunity: String
    /// The service type, e.g. `camera`.
    public var serviceType: String
    /// The providing node (filled from the record's owner when read).
    public var provider: NodeID
    /// Where to reach the service.
    public var contact: String
    /// Free capacity the provider advertises (units are the service type's).
    public var capacity: Int
    /// The area the provider declared (nil when it declared none).
    public var area: String?

    /// Creates a registration.
    public init(subcommunity: String, serviceType: String, provider: NodeID, contact: String, capacity: Int, area: String? = nil) {
        self.subcommunity = subcommunity
        self.serviceType = serviceType
        self.provider = provider
        self.contact = contact
        self.capacity = capacity
        self.area = area
    }

    /// The resource name of a service type in a sub-community.
    public static func resourceName(subcommunity: String, serviceType: String) -> String {
        "service:\(subcommunity)/\(serviceType)"
    }

    /// The Resource-ID of a service type in a sub-community.
    public static func resourceID(subcommunity: String, serviceType: String) -> ResourceID {
        ResourceID(name: resourceName(subcommunity: subcommunity, serviceType: serviceType))
    }

    /// A record value: `contact\ncapacity`, with `\narea` when there is an area.
    public static func value(contact: String, capacity: Int, area: String?) -> [UInt8] {
        Array(([contact, String(capacity)] + (area.map { [$0] } ?? [])).joined(separator: "\n").utf8)
    }

    /// Reads a record value of two lines (contact, capacity) or three (and the area); nil when it is neither.
    public static func parseValue(_ value: [UInt8]) -> (contact: String, capacity: Int, area: String?)? {
        let lines = String(decoding: value, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 2 || lines.count == 3, !lines[0].isEmpty, let capacity = Int(lines[1]) else { return nil }
        let area = lines.count == 3 && !lines[2].isEmpty ? String(lines[2]) : nil
        return (String(lines[0]), capacity, area)
    }

    /// The signed record for this registration (the provider is the signer).
    public func record(sequence: UInt64, expiry: OverlayInstant, by identity: NodeIdentity) -> ResourceRecord {
        .signed(
            kind: .service,
            name: Self.resourceName(subcommunity: subcommunity, serviceType: serviceType),
            value: Self.value(contact: contact, capacity: capacity, area: area),
            sequence: sequence,
            expiry: expiry,
            by: identity
        )
    }

    /// Reads a registration from a `.service` record; nil for other or malformed records.
    public init?(record: ResourceRecord) {
        guard record.kind == .service, !record.isRemoval, record.name.hasPrefix("service:") else { return nil }
        let path = record.name.dropFirst("service:".count)
        guard let slash = path.lastIndex(of: "/"), let value = Self.parseValue(record.value) else { return nil }
        subcommunity = String(path[..<slash])
        serviceType = String(path[path.index(after: slash)...])
        provider = record.owner
        contact = value.contact
        capacity = value.capacity
        area = value.area
    }

    /// The providers found in a lookup's records, most capacity first.
    public static func providers(in records: [ResourceRecord]) -> [ServiceRegistration] {
        records.compactMap(ServiceRegistration.init(record:)).sorted { ($0.capacity, $1.provider) > ($1.capacity, $0.provider) }
    }
}

/// A small LRU cache of resolved contacts, so repeated lookups skip the overlay (seed 001).
///
/// "Friend" entries are pinned: never evicted for space, only dropped when they expire.
public struct ContactCache: Sendable {
    struct Entry: Sendable {
        var contacts: [String]
        var expiry: OverlayInstant
        var lastUse: UInt64
        var isFriend: Bool
    }

    /// How many non-friend entries are kept.
    public let capacity: Int
    private var entries: [String: Entry] = [:]
    private var clock: UInt64 = 0

    /// Creates an empty cache.
    public init(capacity: Int = 128) {
        self.capacity = max(1, capacity)
    }

    /// The number of entries held.
    public var count: Int { entries.count }

    /// Caches the contacts of `aor` until `expiry`; friends are never evicted for space.
    public mutating func insert(aor: String, contacts: [String], expiry: OverlayInstant, isFriend: Bool = false) {
        clock += 1
        let wasFriend = entries[aor]?.isFriend ?? false
        entries[aor] = Entry(contacts: contacts, expiry: expiry, lastUse: clock, isFriend: isFriend || wasFriend)
        evictIfNeeded()
    }

    /// The cached contacts of `aor`, if present and not expired; marks the entry recently used.
    public mutating func contacts(for aor: String, now: OverlayInstant) -> [String]? {
        guard var entry = entries[aor] else { return nil }
        guard entry.expiry > now else {
            entries[aor] = nil
            return nil
        }
        clock += 1
        entry.lastUse = clock
        entries[aor] = entry
        return entry.contacts
    }

    /// Forgets `aor` (e.g. its contact stopped answering).
    public mutating func remove(aor: String) {
        entries[aor] = nil
    }

    private mutating func evictIfNeeded() {
        var ordinary = entries.filter { !$0.value.isFriend }
        while ordinary.count > capacity, let oldest = ordinary.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries[oldest.key] = nil
            ordinary[oldest.key] = nil
        }
    }
}
