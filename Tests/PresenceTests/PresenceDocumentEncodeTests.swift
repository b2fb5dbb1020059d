import Presence
import Testing
import XMLSupport

@Suite struct PresenceDocumentEncodeTests {
    @Test func encodedDocumentValidatesAgainstAllPIDFSchemasAndDecodesToTheSameDocument() throws {
        let text = try Samples.everything.encoded()
        #expect(try PresenceSchemas.errors(text, against: PresenceSchemas.full()).isEmpty)
        #expect(try PresenceSchemas.errors(text, against: PresenceSchemas.pidf()).isEmpty)
        #expect(try PresenceDocument(decoding: text) == Samples.everything)
    }

    @Test(arguments: [
        PresenceDocument(entity: "pres:empty@example.com"),
        PresenceDocument(entity: "sip:a@example.com", tuples: [PresenceTuple(id: "x")]),
        PresenceDocument(entity: "sip:a@example.com", persons: [PresencePerson(id: "p", activities: [.unknown])]),
        PresenceDocument(
            entity: "sip:a@example.com",
            tuples: [
                PresenceTuple(
                    id: "t", status: PresenceStatus(location: PresenceLocation(position: nil)),
                    contact: PresenceContact(uri: "sip:a@192.0.2.1", priority: 0))
            ]),
        PresenceDocument(
            entity: "sip:a@example.com",
            persons: [PresencePerson(id: "p", activities: PresenceActivity.registered.filter { $0 != .unknown })]),
    ])
    func minimalAndEdgeDocumentsValidateAndRoundTrip(document: PresenceDocument) throws {
        let text = try document.encoded()
        #expect(try PresenceSchemas.errors(text, against: PresenceSchemas.full()).isEmpty)
        #expect(try PresenceDocument(decoding: text) == document)
    }

    @Test func schemaValidationRejectsDocumentsTheSchemasForbid() throws {
        let schema = try PresenceSchemas.full()
        let badBasic = """
            <presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com">
            <tuple id="t"><status><basic>maybe</basic></status></tuple></presence>
            """
        let unknownAfterOther = """
            <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
             xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:a@example.com">
            <dm:person id="p"><rpid:activities><rpid:busy/><rpid:unknown/></rpid:activities></dm:person></presence>
            """
        let badRetransmission = """
            <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
             xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy" entity="pres:a@example.com">
            <tuple id="t"><status><gp:geopriv><gp:location-info/><gp:usage-rules>
            <gbp:retransmission-allowed>perhaps</gbp:retransmission-allowed></gp:usage-rules></gp:geopriv></status></tuple>
            </presence>
            """
        for text in [badBasic, unknownAfterOther, badRetransmission] {
            let errors = try PresenceSchemas.errors(text, against: schema)
            #expect(!errors.isEmpty, "accepted: \(text)")
            #expect(errors.allSatisfy { $0.line > 0 })
        }
    }

    @Test func activitiesGoInPersonWithThePrefixesBaresipMatchesLiterally() throws {
        let document = PresenceDocument(
            entity: "sip:alice@example.com",
            tuples: [PresenceTuple(id: "t1", status: PresenceStatus(basic: .open), contact: PresenceContact(uri: "sip:alice@example.com"))],
            persons: [PresencePerson(id: "p1", activities: [.busy, .onThePhone])])
        let text = try document.encoded()
        #expect(text.contains("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""))
        #expect(text.contains("xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\""))
        #expect(text.contains("xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\""))
        #expect(text.contains("<basic>open</basic>"))
        #expect(text.contains("<dm:person id=\"p1\"><rpid:activities><rpid:busy/><rpid:on-the-phone/></rpid:activities></dm:person>"))
        // Persons follow tuples (RFC 3863 §4.4: tuple*, note*, then extensions).
        let tupleEnd = try #require(text.firstRange(of: "</tuple>"))
        let personStart = try #require(text.firstRange(of: "<dm:person"))
        #expect(tupleEnd.upperBound <= personStart.lowerBound)
    }

    @Test func locationIsWrittenAsRFC5491Shapes() throws {
        func encoded(_ position: PresenceGeodeticPosition) throws -> String {
            try PresenceDocument(
                entity: "pres:a@example.com",
                tuples: [PresenceTuple(id: "t", status: PresenceStatus(location: PresenceLocation(position: position)))]
            ).encoded()
        }
        let point = try encoded(PresenceGeodeticPosition(latitude: -34.407, longitude: 150.883))
        #expect(point.contains("<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>-34.407 150.883</gml:pos></gml:Point>"))
        #expect(point.contains("<gp:usage-rules><gbp:retransmission-allowed>false</gbp:retransmission-allowed></gp:usage-rules>"))
        let point3D = try encoded(PresenceGeodeticPosition(latitude: 1.5, longitude: 2.5, altitude: 3.5))
        #expect(point3D.contains("<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4979\"><gml:pos>1.5 2.5 3.5</gml:pos>"))
        let circle = try encoded(PresenceGeodeticPosition(latitude: 42.5463, longitude: -73.2512, uncertaintyRadius: 850.24))
        #expect(
            circle.contains(
                "<gs:Circle srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>42.5463 -73.2512</gml:pos>"
                    + "<gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">850.24</gs:radius></gs:Circle>"))
        let sphere = try encoded(PresenceGeodeticPosition(latitude: 1, longitude: 2, altitude: 3, uncertaintyRadius: 4))
        #expect(sphere.contains("<gs:Sphere srsName=\"urn:ogc:def:crs:EPSG::4979\">"))
    }

    @Test func notesWithMarkupCharactersQuotesAndNonASCIIAreEscapedAndSurviveTheRoundTrip() throws {
        let tricky = "a < b && c > d; \"quoted\" 'single' — Grüße, 日本語, 🚒 </note><tuple id=\"x\">"
        let document = PresenceDocument(
            entity: "sip:a@example.com;x=\"1\"&y=<2>",
            tuples: [PresenceTuple(id: "t", status: PresenceStatus(basic: .open), notes: [PresenceNote(tricky, language: "de-CH")])],
            notes: [PresenceNote("  leading and trailing spaces\nand a line break  ")])
        let text = try document.encoded()
        #expect(text.contains("a &lt; b &amp;&amp; c &gt; d; \"quoted\" 'single' — Grüße, 日本語, 🚒 &lt;/note&gt;"))
        #expect(text.contains("entity=\"sip:a@example.com;x=&quot;1&quot;&amp;y=&lt;2&gt;\""))
        #expect(!text.contains("<tuple id=\"x\">"))
        #expect(try PresenceSchemas.errors(text, against: PresenceSchemas.full()).isEmpty)
        let decoded = try PresenceDocument(decoding: text)
        #expect(decoded == document)
        #expect(decoded.tuples.count == 1)
    }

    @Test func priorityIsWrittenAsAQValueWithAtMostThreeDecimals() throws {
        func written(_ priority: Double) throws -> String? {
            let text = try PresenceDocument(
                entity: "sip:a@example.com",
                tuples: [PresenceTuple(id: "t", contact: PresenceContact(uri: "sip:a@example.com", priority: priority))]
            ).encoded()
            #expect(try PresenceSchemas.errors(text, against: PresenceSchemas.pidf()).isEmpty)
            guard let start = text.firstRange(of: "priority=\""), let end = text[start.upperBound...].firstIndex(of: "\"") else { return nil }
            return String(text[start.upperBound..<end])
        }
        #expect(try written(1) == "1")
        #expect(try written(0) == "0")
        #expect(try written(0.5) == "0.5")
        #expect(try written(0.125) == "0.125")
        #expect(try written(0.0004) == "0")
        #expect(try written(0.9996) == "1")
        #expect(try written(0.05) == "0.05")
    }

    @Test(arguments: [
        ("an id that is not an NCName", PresenceDocument(entity: "sip:a@x", tuples: [PresenceTuple(id: "1st")])),
        ("an empty id", PresenceDocument(entity: "sip:a@x", tuples: [PresenceTuple(id: "")])),
        (
            "an id used twice", PresenceDocument(entity: "sip:a@x", tuples: [PresenceTuple(id: "a")], persons: [PresencePerson(id: "a")])
        ),
        (
            "a priority above 1",
            PresenceDocument(entity: "sip:a@x", tuples: [PresenceTuple(id: "t", contact: PresenceContact(uri: "sip:a@x", priority: 1.5))])
        ),
        ("a latitude above 90", located(PresenceGeodeticPosition(latitude: 90.5, longitude: 0))),
        ("a longitude below -180", located(PresenceGeodeticPosition(latitude: 0, longitude: -181))),
        ("a NaN altitude", located(PresenceGeodeticPosition(latitude: 0, longitude: 0, altitude: .nan))),
        ("a negative radius", located(PresenceGeodeticPosition(latitude: 0, longitude: 0, uncertaintyRadius: -1))),
        ("a control character in a note", PresenceDocument(entity: "sip:a@x", notes: ["bell \u{7}"])),
    ])
    func valuesTheSchemasForbidAreRefusedWithATypedError(what: String, document: PresenceDocument) {
        #expect(throws: PresenceError.self, "\(what) was written") { try document.encoded() }
        do {
            _ = try document.encoded()
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.description.contains("cannot be written as valid PIDF"))
        }
    }
}

private func located(_ position: PresenceGeodeticPosition) -> PresenceDocument {
    PresenceDocument(
        entity: "sip:a@x", tuples: [PresenceTuple(id: "t", status: PresenceStatus(location: PresenceLocation(position: position)))])
}
