/// A PIDF-LO location object: `<gp:geopriv>` with its location and usage rules (RFC 4119 §2.2,
/// RFC 5491).
public struct PresenceLocation: Sendable, Hashable {
    /// The geodetic position in `<gp:location-info>`; nil when the location holds only shapes smf does
    /// not read (e.g. a civic address, RFC 5139).
    public var position: PresenceGeodeticPosition?
    /// What the recipient may do with the location (RFC 4119 §2.2.2).
    public var usageRules: PresenceUsageRules
    /// How the location was determined (`<gp:method>`, e.g. `gps`, `Manual`; RFC 4119 §2.2.3).
    public var method: String?

    /// Creates a location.
    public init(
        position: PresenceGeodeticPosition?, usageRules: PresenceUsageRules = PresenceUsageRules(), method: String? = nil
    ) {
        self.position = position
        self.usageRules = usageRules
        self.method = method
    }
}

/// A WGS 84 position, written per RFC 5491 §5.2: a `<gml:Point>` (2-D, `EPSG::4326`, or 3-D with
/// altitude, `EPSG::4979`), or, with an uncertainty radius, a `<gs:Circle>` (2-D) or `<gs:Sphere>` (3-D).
public struct PresenceGeodeticPosition: Sendable, Hashable {
    /// Degrees north, −90…90.
    public var latitude: Double
    /// Degrees east, −180…180.
    public var longitude: Double
    /// Metres above the WGS 84 ellipsoid.
    public var altitude: Double?
    /// The radius of the uncertainty circle (or sphere, with an altitude), in metres.
    public var uncertaintyRadius: Double?

    /// Creates a position.
    public init(latitude: Double, longitude: Double, altitude: Double? = nil, uncertaintyRadius: Double? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.uncertaintyRadius = uncertaintyRadius
    }
}

/// The basic usage rules of a location (`<gp:usage-rules>`, RFC 4119 §2.2.2 and §2.2.7).
public struct PresenceUsageRules: Sendable, Hashable {
    /// Whether the recipient may pass the location on (`retransmission-allowed`; absent means no).
    public var retransmissionAllowed: Bool
    /// When the recipient must discard the location (`retention-expiry`).
    public var retentionExpiry: PresenceTimestamp?
    /// A URI of further rules (`external-ruleset`).
    public var externalRuleset: String?
    /// A free-text policy note (`note-well`).
    public var noteWell: String?

    /// Creates usage rules; the defaults allow no retransmission and set no expiry.
    public init(
        retransmissionAllowed: Bool = false, retentionExpiry: PresenceTimestamp? = nil, externalRuleset: String? = nil,
        noteWell: String? = nil
    ) {
        self.retransmissionAllowed = retransmissionAllowed
        self.retentionExpiry = retentionExpiry
        self.externalRuleset = externalRuleset
        self.noteWell = noteWell
    }
}
