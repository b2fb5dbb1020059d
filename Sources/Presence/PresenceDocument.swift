/// A presence document (PIDF, RFC 3863 §4) with the rich-presence activities of RFC 4480 and the
/// PIDF-LO location of RFC 4119 / RFC 5491.
///
/// Where things go when written (``encoded()``), chosen to match what baresip and Kamailio send and
/// read:
/// - activities belong to the person (RFC 4479 §3.1, RFC 4480 §3.2): `<dm:person><rpid:activities>`,
///   as both baresip's publisher and Kamailio's presence_xml emit; baresip's subscriber looks for the
///   literal text `<rpid:busy/>`, `<rpid:away/>`, `<rpid:on-the-phone/>`, so the `rpid` prefix is fixed;
/// - a location is a `<gp:geopriv>` inside the tuple's `<status>` (RFC 4119 §2.2.1).
///
/// Reading (``init(decoding:)-(String)``) is tolerant: unknown elements and namespaces are skipped,
/// optional parts may be missing, activities and locations are also found where older or other
/// software puts them (in a tuple or its status; a location in a person).
public struct PresenceDocument: Sendable, Hashable {
    /// The media type of a PIDF body (RFC 3863 §3.1).
    public static let contentType = "application/pidf+xml"

    /// The presentity's URI (`pres:` or `sip:`), the `entity` attribute (RFC 3863 §4.1.1).
    public var entity: String
    /// The tuples, one per communication service or device (RFC 3863 §4.1.2).
    public var tuples: [PresenceTuple]
    /// Notes about the presentity as a whole (RFC 3863 §4.1.6).
    public var notes: [PresenceNote]
    /// The persons (RFC 4479 §3.1): normally one, carrying activities. A document aggregated by a
    /// presence server may hold several.
    public var persons: [PresencePerson]

    /// Creates a document.
    public init(
        entity: String, tuples: [PresenceTuple] = [], notes: [PresenceNote] = [], persons: [PresencePerson] = []
    ) {
        self.entity = entity
        self.tuples = tuples
        self.notes = notes
        self.persons = persons
    }

    /// The presentity's overall basic status: open if any tuple is open, else closed if any is
    /// closed, else nil (no tuple says).
    public var basicStatus: PresenceBasicStatus? {
        let statuses = tuples.compactMap(\.status.basic)
        if statuses.contains(.open) { return .open }
        return statuses.isEmpty ? nil : .closed
    }

    /// Every activity the document reports, persons first, then tuples, without repeats.
    public var activities: [PresenceActivity] {
        var seen: Set<PresenceActivity> = []
        return (persons.flatMap(\.activities) + tuples.flatMap(\.status.activities)).filter { seen.insert($0).inserted }
    }

    /// The first location the document reports (tuples first, then persons).
    public var location: PresenceLocation? {
        tuples.lazy.compactMap(\.status.location).first ?? persons.lazy.compactMap(\.location).first
    }
}

/// `open` or `closed`: whether the service of a tuple can take communication (RFC 3863 §4.1.4).
public enum PresenceBasicStatus: String, Sendable, Hashable {
    case open
    case closed
}

/// One `<tuple>`: a service or device of the presentity (RFC 3863 §4.1.2).
public struct PresenceTuple: Sendable, Hashable {
    /// The tuple's `id`, an XML ID unique within the document (RFC 3863 §4.1.2).
    public var id: String
    /// The `<status>`.
    public var status: PresenceStatus
    /// The `<contact>` address of the service (RFC 3863 §4.1.5).
    public var contact: PresenceContact?
    /// The tuple's notes (RFC 3863 §4.1.6).
    public var notes: [PresenceNote]
    /// When this tuple's status last changed (RFC 3863 §4.1.7).
    public var timestamp: PresenceTimestamp?

    /// Creates a tuple.
    public init(
        id: String, status: PresenceStatus = PresenceStatus(), contact: PresenceContact? = nil,
        notes: [PresenceNote] = [], timestamp: PresenceTimestamp? = nil
    ) {
        self.id = id
        self.status = status
        self.contact = contact
        self.notes = notes
        self.timestamp = timestamp
    }
}

/// A tuple's `<status>` (RFC 3863 §4.1.3) with the extensions smf understands.
public struct PresenceStatus: Sendable, Hashable {
    /// `<basic>` (RFC 3863 §4.1.4); nil when absent or not `open`/`closed`.
    public var basic: PresenceBasicStatus?
    /// A PIDF-LO location (`<gp:geopriv>`, RFC 4119 §2.2.1).
    public var location: PresenceLocation?
    /// Activities given with the tuple rather than the person, as pre-RFC 4479 RPID software does.
    /// The encoder writes them inside `<status>`; new documents put activities in a ``PresencePerson``.
    public var activities: [PresenceActivity]

    /// Creates a status.
    public init(basic: PresenceBasicStatus? = nil, location: PresenceLocation? = nil, activities: [PresenceActivity] = []) {
        self.basic = basic
        self.location = location
        self.activities = activities
    }
}

/// A `<contact>` URI with its optional priority (RFC 3863 §4.1.5).
public struct PresenceContact: Sendable, Hashable {
    /// The contact URI (e.g. `sip:alice@192.0.2.1`).
    public var uri: String
    /// The priority, 0…1 (a SIP qvalue, written with at most three decimals, RFC 3863 §4.1.5).
    public var priority: Double?

    /// Creates a contact.
    public init(uri: String, priority: Double? = nil) {
        self.uri = uri
        self.priority = priority
    }
}

/// A human-readable `<note>` in an optional language (RFC 3863 §4.1.6).
public struct PresenceNote: Sendable, Hashable, ExpressibleByStringLiteral {
    /// The text, exactly as written (not trimmed).
    public var text: String
    /// The `xml:lang` language tag (e.g. `fr`), if any.
    public var language: String?

    /// Creates a note.
    public init(_ text: String, language: String? = nil) {
        self.text = text
        self.language = language
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }
}

/// A `<dm:person>`: the human (or, in smf, the machine) behind the presentity (RFC 4479 §3.1).
public struct PresencePerson: Sendable, Hashable {
    /// The person's `id`, an XML ID unique within the document.
    public var id: String
    /// What the person is doing (`<rpid:activities>`, RFC 4480 §3.2).
    public var activities: [PresenceActivity]
    /// Where the person is (`<gp:geopriv>` in the person, RFC 5491 §3.4); read from others' documents,
    /// also written when set.
    public var location: PresenceLocation?
    /// `<dm:note>`s.
    public var notes: [PresenceNote]
    /// `<dm:timestamp>`.
    public var timestamp: PresenceTimestamp?

    /// Creates a person.
    public init(
        id: String, activities: [PresenceActivity] = [], location: PresenceLocation? = nil, notes: [PresenceNote] = [],
        timestamp: PresenceTimestamp? = nil
    ) {
        self.id = id
        self.activities = activities
        self.location = location
        self.notes = notes
        self.timestamp = timestamp
    }
}
