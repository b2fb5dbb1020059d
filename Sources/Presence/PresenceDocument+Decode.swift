public import XMLSupport

extension PresenceDocument {
    /// Reads a PIDF body (RFC 3863 §4), tolerantly.
    ///
    /// Unknown elements, attributes and namespaces are skipped; missing optional parts stay nil or
    /// empty; a missing `entity` or tuple `id` reads as the empty string; a `<basic>` other than
    /// `open`/`closed`, a bad `<timestamp>` or priority reads as nil. Text is trimmed except in notes.
    /// Also read: activities in a tuple or its status (pre-RFC 4479 RPID), a `<gp:geopriv>` in a
    /// person, GML `<gml:coordinates>` in degrees or `DD:MM:SS[NSEW]` (the RFC 4119 example), and
    /// usage rules in the `gp` namespace (as RFC 4119's examples write them). The XML is parsed by
    /// ``XMLDocument``: no network, no external entities.
    ///
    /// - Throws: ``PresenceError`` with code ``PresenceError/Code/notXML`` (and the line of the first
    ///   error) when the body is not well-formed XML, or ``PresenceError/Code/notPIDF`` (and the root's
    ///   line) when its root is not `<presence>` in the PIDF namespace.
    public init(decoding bytes: [UInt8]) throws(PresenceError) {
        let document: XMLDocument
        do {
            document = try XMLDocument(parsing: bytes, fileName: "PIDF body")
        } catch {
            let first = error.diagnostics.first(where: \.isError) ?? error.diagnostics.first
            throw PresenceError(.notXML, line: first?.line ?? 0, first?.message ?? "\(error)")
        }
        try self.init(root: document.root)
    }

    /// Reads a PIDF body held in a string (see ``init(decoding:)-([UInt8])``).
    public init(decoding text: String) throws(PresenceError) {
        try self.init(decoding: Array(text.utf8))
    }

    /// Reads an already parsed `<presence>` element.
    public init(root: XMLElement) throws(PresenceError) {
        let accepted: Set<String?> = [PresenceNamespace.pidf, PresenceNamespace.cpimPIDF, nil]
        guard root.name == "presence", accepted.contains(root.namespaceURI) else {
            throw PresenceError(
                .notPIDF, line: root.line,
                "the root element is <\(root.qualifiedName)>, expected <{\(PresenceNamespace.pidf)}presence>")
        }
        let pidf = root.namespaceURI
        self.init(
            entity: trimmed(root.attribute("entity") ?? ""),
            tuples: root.children(named: "tuple", namespaceURI: pidf).map { PresenceTuple(decoding: $0, pidf: pidf) },
            notes: root.children(named: "note", namespaceURI: pidf).map(PresenceNote.init(decoding:)),
            persons: root.children(named: "person", namespaceURI: PresenceNamespace.dataModel).map(PresencePerson.init(decoding:))
        )
    }
}

extension PresenceTuple {
    init(decoding element: XMLElement, pidf: String?) {
        let statusElement = element.firstChild(named: "status", namespaceURI: pidf)
        var status = PresenceStatus()
        if let statusElement {
            status.basic = statusElement.firstChild(named: "basic", namespaceURI: pidf)
                .flatMap { PresenceBasicStatus(rawValue: trimmed($0.text).lowercased()) }
            status.location = firstLocation(in: statusElement)
            status.activities = decodeActivities(in: statusElement)
        }
        // Older RPID put activities (and some software a location) beside <status>, in the tuple.
        if status.activities.isEmpty { status.activities = decodeActivities(in: element) }
        if status.location == nil { status.location = firstLocation(in: element) }

        let contact = element.firstChild(named: "contact", namespaceURI: pidf).map { contact in
            PresenceContact(
                uri: trimmed(contact.text),
                priority: contact.attribute("priority").flatMap { Double(trimmed($0)) }.flatMap {
                    (0...1).contains($0) ? $0 : nil
                })
        }
        self.init(
            id: trimmed(element.attribute("id") ?? ""),
            status: status,
            contact: contact,
            notes: element.children(named: "note", namespaceURI: pidf).map(PresenceNote.init(decoding:)),
            timestamp: element.firstChild(named: "timestamp", namespaceURI: pidf).flatMap { PresenceTimestamp(trimmed($0.text)) }
        )
    }
}

extension PresencePerson {
    init(decoding element: XMLElement) {
        let dm = PresenceNamespace.dataModel
        self.init(
            id: trimmed(element.attribute("id") ?? ""),
            activities: decodeActivities(in: element),
            location: firstLocation(in: element),
            notes: element.children(named: "note", namespaceURI: dm).map(PresenceNote.init(decoding:)),
            timestamp: element.firstChild(named: "timestamp", namespaceURI: dm).flatMap { PresenceTimestamp(trimmed($0.text)) }
        )
    }
}

extension PresenceNote {
    init(decoding element: XMLElement) {
        self.init(element.text, language: element.attribute("lang", namespaceURI: PresenceNamespace.xml))
    }
}

/// The activities of the first `<activities>` child (RPID, or a draft RPID namespace) of `element`.
private func decodeActivities(in element: XMLElement) -> [PresenceActivity] {
    guard let list = element.children.first(where: { $0.name == "activities" && $0.namespaceURI != PresenceNamespace.pidf })
    else { return [] }
    return list.children.compactMap { child in
        switch child.name {
        case "note": nil
        case "other": .other(trimmed(child.allText))
        default: PresenceActivity(token: child.name)
        }
    }
}

/// The first `<gp:geopriv>` child of `element`, read (RFC 4119 §2.2).
private func firstLocation(in element: XMLElement) -> PresenceLocation? {
    let gp = PresenceNamespace.geopriv
    guard let geopriv = element.firstChild(named: "geopriv", namespaceURI: gp) else { return nil }
    let position = geopriv.firstChild(named: "location-info", namespaceURI: gp).flatMap(firstPosition(in:))
    var rules = PresenceUsageRules()
    if let usage = geopriv.firstChild(named: "usage-rules", namespaceURI: gp) {
        // RFC 4119's schema puts the rules in the basicPolicy namespace; its examples use gp.
        func rule(_ name: String) -> String? {
            (usage.firstChild(named: name, namespaceURI: PresenceNamespace.geoprivBasicPolicy)
                ?? usage.firstChild(named: name, namespaceURI: gp)).map { trimmed($0.text) }
        }
        rules.retransmissionAllowed = rule("retransmission-allowed").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        rules.retentionExpiry = rule("retention-expiry").flatMap(PresenceTimestamp.init)
        rules.externalRuleset = rule("external-ruleset")
        rules.noteWell = rule("note-well")
    }
    let method = geopriv.firstChild(named: "method", namespaceURI: gp).map { trimmed($0.text) }
    return PresenceLocation(position: position, usageRules: rules, method: method)
}

/// The first geodetic shape smf reads (Point, Circle, Sphere; any GML version) in `element`'s subtree.
private func firstPosition(in element: XMLElement) -> PresenceGeodeticPosition? {
    for child in element.children {
        switch child.name {
        case "Point", "Circle", "Sphere":
            guard
                let coordinates = child.children.first(where: { $0.name == "pos" || $0.name == "coordinates" }),
                var position = parsePosition(coordinates.text)
            else { continue }
            if child.name != "Point",
                let radius = child.children.first(where: { $0.name == "radius" }).flatMap({ Double(trimmed($0.text)) }),
                radius.isFinite, radius >= 0
            {
                position.uncertaintyRadius = radius
            }
            return position
        default:
            if let position = firstPosition(in: child) { return position }
        }
    }
    return nil
}

/// `LAT LON [ALT]` (GML `pos`, RFC 5491 §5.2.1) or `LAT,LON` / `DD:MM:SSN DDD:MM:SSW` (GML `coordinates`).
private func parsePosition(_ text: String) -> PresenceGeodeticPosition? {
    let parts = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\n" || $0 == "\r" })
    guard parts.count == 2 || parts.count == 3,
        let latitude = parseDegrees(parts[0]), let longitude = parseDegrees(parts[1]),
        (-90...90).contains(latitude), (-180...180).contains(longitude)
    else { return nil }
    var altitude: Double?
    if parts.count == 3 {
        guard let value = Double(parts[2]), value.isFinite else { return nil }
        altitude = value
    }
    return PresenceGeodeticPosition(latitude: latitude, longitude: longitude, altitude: altitude)
}

/// Decimal degrees, or `D[:M[:S]]` followed by N, S, E or W.
private func parseDegrees(_ text: Substring) -> Double? {
    if let value = Double(text) { return value.isFinite ? value : nil }
    guard let hemisphere = text.last, "NSEWnsew".contains(hemisphere) else { return nil }
    let fields = text.dropLast().split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
    guard (1...3).contains(fields.count), fields.allSatisfy({ ($0 ?? -1) >= 0 && ($0 ?? 0).isFinite }) else { return nil }
    let values = fields.compactMap { $0 }
    var degrees = values[0]
    if values.count > 1 { degrees += values[1] / 60 }
    if values.count > 2 { degrees += values[2] / 3600 }
    return "SWsw".contains(hemisphere) ? -degrees : degrees
}

/// `text` without leading and trailing XML white space.
func trimmed(_ text: String) -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    guard let start = text.firstIndex(where: { !isSpace($0) }), let end = text.lastIndex(where: { !isSpace($0) }) else {
        return ""
    }
    return String(text[start...end])
}
