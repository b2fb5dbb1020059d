public import XMLSupport

extension PresenceDocument {
    /// Writes the document as an `application/pidf+xml` body (RFC 3863 §4) that is valid against the
    /// PIDF, data-model, RPID and GEOPRIV schemas (`Schemas/pidf-full.xsd`).
    ///
    /// Element order follows the schemas: `<tuple>`s, then top-level `<note>`s, then `<dm:person>`s;
    /// in a tuple `<status>` (`<basic>`, `<gp:geopriv>`, `<rpid:activities>`), `<contact>`, `<note>`s,
    /// `<timestamp>`. The PIDF namespace is the default one; `dm`, `rpid`, `gp`, `gbp`, `gml`, `gs`
    /// are the prefixes of the other namespaces, declared on the root.
    ///
    /// - Throws: ``PresenceError`` with code ``PresenceError/Code/invalidValue`` for a value the schemas
    ///   do not allow (an id that is not an XML ID or is used twice, a priority outside 0…1, a latitude,
    ///   longitude, altitude or radius out of range, text with a character XML cannot carry).
    public func encoded() throws(PresenceError) -> String {
        try checkIdentifiers()
        let root = try xmlElement()
        do {
            return try XMLWriter(preferredPrefixes: PresenceNamespace.preferredPrefixes).string(for: root)
        } catch {
            throw PresenceError(.invalidValue, "\(error)")
        }
    }

    /// The document as an XML element tree (the root `<presence>`), for embedding or inspection.
    public func xmlElement() throws(PresenceError) -> XMLElement {
        var children = try tuples.map { tuple throws(PresenceError) in try tuple.xmlElement() }
        children += notes.map { $0.xmlElement(namespace: PresenceNamespace.pidf) }
        children += try persons.map { person throws(PresenceError) in try person.xmlElement() }
        return XMLElement(
            name: "presence", namespaceURI: PresenceNamespace.pidf,
            attributes: [XMLAttribute(name: "entity", value: entity)], children: children)
    }

    /// Tuple and person ids are XML IDs: NCNames, unique in the document (RFC 3863 §4.1.2, RFC 4479).
    private func checkIdentifiers() throws(PresenceError) {
        var seen: Set<String> = []
        for id in tuples.map(\.id) + persons.map(\.id) {
            guard isXMLName(id) else {
                throw PresenceError(.invalidValue, "the id \"\(id)\" is not an XML ID (an NCName such as t1)")
            }
            guard seen.insert(id).inserted else {
                throw PresenceError(.invalidValue, "the id \"\(id)\" is used by more than one tuple or person")
            }
        }
    }
}

extension PresenceTuple {
    func xmlElement() throws(PresenceError) -> XMLElement {
        var children = [try status.xmlElement()]
        if let contact {
            var attributes: [XMLAttribute] = []
            if let priority = contact.priority {
                attributes.append(XMLAttribute(name: "priority", value: try qvalue(priority)))
            }
            children.append(
                XMLElement(name: "contact", namespaceURI: PresenceNamespace.pidf, attributes: attributes, text: contact.uri))
        }
        children += notes.map { $0.xmlElement(namespace: PresenceNamespace.pidf) }
        if let timestamp {
            children.append(XMLElement(name: "timestamp", namespaceURI: PresenceNamespace.pidf, text: timestamp.text))
        }
        return XMLElement(
            name: "tuple", namespaceURI: PresenceNamespace.pidf, attributes: [XMLAttribute(name: "id", value: id)],
            children: children)
    }
}

extension PresenceStatus {
    func xmlElement() throws(PresenceError) -> XMLElement {
        var children: [XMLElement] = []
        if let basic {
            children.append(XMLElement(name: "basic", namespaceURI: PresenceNamespace.pidf, text: basic.rawValue))
        }
        if let location { children.append(try location.xmlElement()) }
        if !activities.isEmpty { children.append(activitiesElement(activities)) }
        return XMLElement(name: "status", namespaceURI: PresenceNamespace.pidf, children: children)
    }
}

extension PresencePerson {
    func xmlElement() throws(PresenceError) -> XMLElement {
        var children: [XMLElement] = []
        if !activities.isEmpty { children.append(activitiesElement(activities)) }
        if let location { children.append(try location.xmlElement()) }
        children += notes.map { $0.xmlElement(namespace: PresenceNamespace.dataModel) }
        if let timestamp {
            children.append(XMLElement(name: "timestamp", namespaceURI: PresenceNamespace.dataModel, text: timestamp.text))
        }
        return XMLElement(
            name: "person", namespaceURI: PresenceNamespace.dataModel, attributes: [XMLAttribute(name: "id", value: id)],
            children: children)
    }
}

extension PresenceNote {
    func xmlElement(namespace: String) -> XMLElement {
        let attributes = language.map { [XMLAttribute(name: "lang", namespaceURI: PresenceNamespace.xml, value: $0)] } ?? []
        return XMLElement(name: "note", namespaceURI: namespace, attributes: attributes, text: text)
    }
}

/// `<rpid:activities>` (RFC 4480 §3.2): `unknown` only on its own, as the schema requires.
func activitiesElement(_ activities: [PresenceActivity]) -> XMLElement {
    let known = activities.filter { $0 != .unknown }
    let written = known.isEmpty ? [PresenceActivity.unknown] : known
    let children = written.map { activity in
        switch activity {
        case .other(let text): XMLElement(name: "other", namespaceURI: PresenceNamespace.rpid, text: text)
        default: XMLElement(name: activity.token ?? "unknown", namespaceURI: PresenceNamespace.rpid)
        }
    }
    return XMLElement(name: "activities", namespaceURI: PresenceNamespace.rpid, children: children)
}

extension PresenceLocation {
    /// `<gp:geopriv>` with `<gp:location-info>`, `<gp:usage-rules>` and `<gp:method>` (RFC 4119 §2.2).
    func xmlElement() throws(PresenceError) -> XMLElement {
        let gp = PresenceNamespace.geopriv
        let gbp = PresenceNamespace.geoprivBasicPolicy
        var shapes: [XMLElement] = []
        if let position { shapes.append(try position.xmlElement()) }
        var rules = [
            XMLElement(name: "retransmission-allowed", namespaceURI: gbp, text: usageRules.retransmissionAllowed ? "true" : "false")
        ]
        if let expiry = usageRules.retentionExpiry {
            rules.append(XMLElement(name: "retention-expiry", namespaceURI: gbp, text: expiry.text))
        }
        if let ruleset = usageRules.externalRuleset {
            rules.append(XMLElement(name: "external-ruleset", namespaceURI: gbp, text: ruleset))
        }
        if let noteWell = usageRules.noteWell {
            rules.append(XMLElement(name: "note-well", namespaceURI: gbp, text: noteWell))
        }
        var children = [
            XMLElement(name: "location-info", namespaceURI: gp, children: shapes),
            XMLElement(name: "usage-rules", namespaceURI: gp, children: rules),
        ]
        if let method { children.append(XMLElement(name: "method", namespaceURI: gp, text: method)) }
        return XMLElement(name: "geopriv", namespaceURI: gp, children: children)
    }
}

extension PresenceGeodeticPosition {
    /// The coordinate reference system of a 2-D (latitude, longitude) position (RFC 5491 §5.2).
    static let crs2D = "urn:ogc:def:crs:EPSG::4326"
    /// The coordinate reference system of a 3-D (latitude, longitude, altitude) position (RFC 5491 §5.2).
    static let crs3D = "urn:ogc:def:crs:EPSG::4979"
    /// The unit of a radius: metres (RFC 5491 §5.2.2).
    static let metre = "urn:ogc:def:uom:EPSG::9001"

    /// `<gml:Point>`, `<gs:Circle>` or `<gs:Sphere>` (RFC 5491 §5.2.1, §5.2.2, §5.2.7).
    func xmlElement() throws(PresenceError) -> XMLElement {
        guard latitude.isFinite, (-90...90).contains(latitude) else {
            throw PresenceError(.invalidValue, "latitude \(latitude) is not within -90…90 degrees")
        }
        guard longitude.isFinite, (-180...180).contains(longitude) else {
            throw PresenceError(.invalidValue, "longitude \(longitude) is not within -180…180 degrees")
        }
        if let altitude, !altitude.isFinite {
            throw PresenceError(.invalidValue, "altitude \(altitude) is not a finite number")
        }
        var coordinates = "\(latitude) \(longitude)"
        if let altitude { coordinates += " \(altitude)" }
        let srsName = XMLAttribute(name: "srsName", value: altitude == nil ? Self.crs2D : Self.crs3D)
        let pos = XMLElement(name: "pos", namespaceURI: PresenceNamespace.gml, text: coordinates)
        guard let radius = uncertaintyRadius else {
            return XMLElement(name: "Point", namespaceURI: PresenceNamespace.gml, attributes: [srsName], children: [pos])
        }
        guard radius.isFinite, radius >= 0 else {
            throw PresenceError(.invalidValue, "uncertainty radius \(radius) is not a finite number of metres ≥ 0")
        }
        let radiusElement = XMLElement(
            name: "radius", namespaceURI: PresenceNamespace.geoShape,
            attributes: [XMLAttribute(name: "uom", value: Self.metre)], text: "\(radius)")
        return XMLElement(
            name: altitude == nil ? "Circle" : "Sphere", namespaceURI: PresenceNamespace.geoShape, attributes: [srsName],
            children: [pos, radiusElement])
    }
}

/// A priority as a SIP qvalue: `0`, `0.x`, `0.xx`, `0.xxx` or `1` (RFC 3863 §4.1.5, RFC 3261 §25.1).
func qvalue(_ priority: Double) throws(PresenceError) -> String {
    guard priority.isFinite, (0...1).contains(priority) else {
        throw PresenceError(.invalidValue, "contact priority \(priority) is not within 0…1")
    }
    let thousandths = Int((priority * 1000).rounded())
    if thousandths >= 1000 { return "1" }
    if thousandths == 0 { return "0" }
    var fraction = String(thousandths)
    fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return "0.\(fraction)"
}

/// Whether `name` is an XML NCName (the lexical space of `xs:ID`; XML 1.0 §2.3 without `:`).
func isXMLName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first else { return false }
    func isStart(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x41...0x5A, 0x61...0x7A, 0x5F: true
        case 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x2FF, 0x370...0x37D, 0x37F...0x1FFF, 0x200C...0x200D,
            0x2070...0x218F, 0x2C00...0x2FEF, 0x3001...0xD7FF, 0xF900...0xFDCF, 0xFDF0...0xFFFD, 0x10000...0xEFFFF:
            true
        default: false
        }
    }
    func isPart(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x2D, 0x2E, 0x30...0x39, 0xB7, 0x300...0x36F, 0x203F...0x2040: true
        default: isStart(s)
        }
    }
    return isStart(first) && name.unicodeScalars.dropFirst().allSatisfy(isPart)
}
