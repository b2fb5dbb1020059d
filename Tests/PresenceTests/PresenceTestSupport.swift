import Presence
import XMLSupport

/// The repository's `Schemas/` directory, found from this file's path (tests run from any directory).
enum PresenceSchemas {
    static var directory: String {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // PresenceTestSupport.swift, PresenceTests, Tests
        return parts.joined(separator: "/") + "/Schemas"
    }

    /// PIDF + data model + RPID + GEOPRIV (`Schemas/pidf-full.xsd`).
    static func full() throws -> XMLSchema { try XMLSchema(contentsOf: directory + "/pidf-full.xsd") }

    /// PIDF alone (`Schemas/pidf.xsd`, RFC 3863 §4.4); extensions are checked only by its lax wildcards.
    static func pidf() throws -> XMLSchema { try XMLSchema(contentsOf: directory + "/pidf.xsd") }

    /// The error diagnostics of validating `text` against `schema`.
    static func errors(_ text: String, against schema: XMLSchema) throws -> [XMLDiagnostic] {
        try schema.validate(XMLDocument(parsing: text, fileName: "encoded.xml")).filter(\.isError)
    }
}

enum Samples {
    /// A document using every part of the model.
    static let everything = PresenceDocument(
        entity: "pres:supporter-3@north-street.example.org",
        tuples: [
            PresenceTuple(
                id: "t1",
                status: PresenceStatus(
                    basic: .open,
                    location: PresenceLocation(
                        position: PresenceGeodeticPosition(latitude: 48.1372, longitude: 11.5756),
                        usageRules: PresenceUsageRules(
                            retransmissionAllowed: false, retentionExpiry: PresenceTimestamp("2026-11-24T06:00:00Z")),
                        method: "gps")),
                contact: PresenceContact(uri: "sip:supporter-3@192.0.2.33:5060", priority: 0.8),
                notes: [PresenceNote("On duty", language: "en"), PresenceNote("Im Dienst", language: "de")],
                timestamp: PresenceTimestamp("2026-11-23T06:00:00Z")),
            PresenceTuple(
                id: "t2",
                status: PresenceStatus(
                    basic: .closed,
                    location: PresenceLocation(
                        position: PresenceGeodeticPosition(
                            latitude: -33.8688, longitude: 151.2093, altitude: 58.5, uncertaintyRadius: 12.25),
                        usageRules: PresenceUsageRules(
                            retransmissionAllowed: true, externalRuleset: "https://example.org/rules.xml",
                            noteWell: "Community members only"))),
                contact: PresenceContact(uri: "mailto:supporter-3@example.org")),
            PresenceTuple(id: "t3", status: PresenceStatus(basic: .open, activities: [.busy])),
        ],
        notes: ["Fire brigade volunteer"],
        persons: [
            PresencePerson(
                id: "p1", activities: [.onThePhone, .other("firefighting")],
                location: PresenceLocation(
                    position: PresenceGeodeticPosition(latitude: 0, longitude: -180, uncertaintyRadius: 850.24)),
                notes: [PresenceNote("Back at 18:00", language: "en")],
                timestamp: PresenceTimestamp(secondsSince1970: 1_795_000_000))
        ])
}
