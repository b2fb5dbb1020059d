import Presence
import SIPEvents
import Testing

/// Documents as others write them: the RFC examples, baresip, Kamailio, and broken input.
@Suite struct PresenceDocumentDecodeTests {
    /// RFC 3863 §6's example, with extension elements in namespaces the decoder does not know.
    static let rfc3863Example = """
        <?xml version="1.0" encoding="UTF-8"?>
        <impp:presence xmlns:impp="urn:ietf:params:xml:ns:pidf"
            xmlns:myex="http://id.example.com/presence/"
            entity="pres:someone@example.com">
          <impp:tuple id="ck38g9">
            <impp:status>
              <impp:basic>open</impp:basic>
            </impp:status>
            <myex:mytupletag>Extended value in tuple</myex:mytupletag>
            <impp:contact priority="0.65">tel:+09012345678</impp:contact>
          </impp:tuple>
          <impp:tuple id="md66je">
            <impp:status>
              <impp:basic>open</impp:basic>
            </impp:status>
            <impp:contact priority="1.0">
               im:someone@mobilecarrier.net
            </impp:contact>
            <impp:note xml:lang="en">Don't Disturb Please!</impp:note>
            <impp:note xml:lang="fr">Ne derangez pas, s'il vous plait</impp:note>
            <impp:timestamp>2001-10-27T16:49:29Z</impp:timestamp>
          </impp:tuple>
          <impp:note xml:lang="en">I'll be in Tokyo next week</impp:note>
          <myex:mytag>Extended value</myex:mytag>
        </impp:presence>
        """

    @Test func readsTheRFC3863ExampleSkippingUnknownExtensions() throws {
        let document = try PresenceDocument(decoding: Self.rfc3863Example)
        #expect(document.entity == "pres:someone@example.com")
        #expect(document.tuples.map(\.id) == ["ck38g9", "md66je"])
        #expect(document.tuples[0].status.basic == .open)
        #expect(document.tuples[0].contact == PresenceContact(uri: "tel:+09012345678", priority: 0.65))
        #expect(document.tuples[1].contact == PresenceContact(uri: "im:someone@mobilecarrier.net", priority: 1))
        #expect(
            document.tuples[1].notes == [
                PresenceNote("Don't Disturb Please!", language: "en"),
                PresenceNote("Ne derangez pas, s'il vous plait", language: "fr"),
            ])
        #expect(document.tuples[1].timestamp?.text == "2001-10-27T16:49:29Z")
        #expect(document.notes == [PresenceNote("I'll be in Tokyo next week", language: "en")])
        #expect(document.persons.isEmpty)
        #expect(document.basicStatus == .open)
    }

    /// RFC 4480 §3's example: activities, mood, place and more in a person, a device, RPID in a tuple.
    static let rfc4480Example = """
        <?xml version="1.0" encoding="UTF-8"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf"
             xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
             xmlns:lt="urn:ietf:params:xml:ns:location-type"
             xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
             entity="pres:someone@example.com">
          <tuple id="bs35r9">
            <status>
              <basic>open</basic>
            </status>
            <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>
            <rpid:relationship><rpid:self/></rpid:relationship>
            <rpid:service-class><rpid:electronic/></rpid:service-class>
            <contact priority="0.8">im:someone@mobilecarrier.net</contact>
            <note xml:lang="en">Don't Disturb Please!</note>
            <note xml:lang="fr">Ne derangez pas, s'il vous plait</note>
            <timestamp>2005-10-27T16:49:29Z</timestamp>
          </tuple>
          <dm:person id="p1">
            <rpid:activities from="2005-05-30T12:00:00+05:00"
                until="2005-05-30T17:00:00+05:00">
              <rpid:note>Far away</rpid:note>
              <rpid:away/>
            </rpid:activities>
            <rpid:class>calendar</rpid:class>
            <rpid:mood>
              <rpid:angry/>
              <rpid:other>brooding</rpid:other>
            </rpid:mood>
            <rpid:place-is>
              <rpid:audio>
                <rpid:noisy/>
              </rpid:audio>
            </rpid:place-is>
            <rpid:place-type><lt:residence/></rpid:place-type>
            <rpid:privacy><rpid:unknown/></rpid:privacy>
            <rpid:sphere>bowling league</rpid:sphere>
            <rpid:status-icon>http://example.com/playing.gif</rpid:status-icon>
            <rpid:time-offset>-240</rpid:time-offset>
            <dm:note>Scoring 120</dm:note>
            <dm:timestamp>2005-05-30T16:09:44+05:00</dm:timestamp>
          </dm:person>
          <dm:device id="pc122">
            <rpid:user-input idle-threshold="600"
                last-input="2004-10-21T13:20:00-05:00">idle</rpid:user-input>
            <dm:deviceID>urn:device:0003ba4811e3</dm:deviceID>
            <dm:note>PC</dm:note>
          </dm:device>
        </presence>
        """

    @Test func readsTheRFC4480ExampleActivitiesFromThePerson() throws {
        let document = try PresenceDocument(decoding: Self.rfc4480Example)
        let person = try #require(document.persons.first)
        #expect(person.id == "p1")
        #expect(person.activities == [.away])
        #expect(person.notes == [PresenceNote("Scoring 120")])
        #expect(person.timestamp?.text == "2005-05-30T16:09:44+05:00")
        #expect(person.timestamp?.secondsSince1970 == 1_117_451_384)
        #expect(document.tuples.first?.status.activities == [])
        #expect(document.activities == [.away])
        #expect(document.tuples.first?.contact?.priority == 0.8)
    }

    /// RFC 4119 §2.4's first example: a GML 3.0 point in degrees-minutes-seconds, usage rules in `gp`.
    static let rfc4119Example = """
        <?xml version="1.0" encoding="UTF-8"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf"
            xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
            xmlns:gml="urn:opengis:specification:gml:schema-xsd:feature:v3.0"
            entity="pres:geotarget@example.com">
         <tuple id="sg89ae">
          <status>
           <gp:geopriv>
             <gp:location-info>
               <gml:location>
                 <gml:Point gml:id="point1" srsName="epsg:4326">
                   <gml:coordinates>37:46:30N 122:25:10W</gml:coordinates>
                 </gml:Point>
                </gml:location>
             </gp:location-info>
             <gp:usage-rules>
               <gp:retransmission-allowed>no</gp:retransmission-allowed>
               <gp:retention-expiry>2003-06-23T04:57:29Z</gp:retention-expiry>
             </gp:usage-rules>
           </gp:geopriv>
          </status>
          <timestamp>2003-06-22T20:57:29Z</timestamp>
         </tuple>
        </presence>
        """

    @Test func readsTheRFC4119ExampleWithDegreesMinutesSeconds() throws {
        let document = try PresenceDocument(decoding: Self.rfc4119Example)
        let location = try #require(document.location)
        let position = try #require(location.position)
        #expect(abs(position.latitude - (37 + 46.0 / 60 + 30.0 / 3600)) < 1e-9)
        #expect(abs(position.longitude + (122 + 25.0 / 60 + 10.0 / 3600)) < 1e-9)
        #expect(position.altitude == nil)
        #expect(location.usageRules.retransmissionAllowed == false)
        #expect(location.usageRules.retentionExpiry?.text == "2003-06-23T04:57:29Z")
        #expect(document.tuples.first?.status.basic == nil)
        #expect(document.tuples.first?.timestamp?.text == "2003-06-22T20:57:29Z")
    }

    /// RFC 5491 §5.2.2's circle, in a person (§3.4), and a civic address the decoder does not model.
    static let rfc5491Example = """
        <?xml version="1.0" encoding="UTF-8"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf"
            xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
            xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
            xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
            xmlns:gml="http://www.opengis.net/gml"
            xmlns:gs="http://www.opengis.net/pidflo/1.0"
            xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
            entity="pres:point2d@example.com">
          <tuple id="civic">
            <status>
              <gp:geopriv>
                <gp:location-info>
                  <ca:civicAddress><ca:country>AU</ca:country><ca:A1>NSW</ca:A1></ca:civicAddress>
                </gp:location-info>
                <gp:usage-rules/>
              </gp:geopriv>
            </status>
          </tuple>
          <dm:person id="sg89ab">
            <gp:geopriv>
              <gp:location-info>
                <gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">
                  <gml:pos>42.5463 -73.2512</gml:pos>
                  <gs:radius uom="urn:ogc:def:uom:EPSG::9001">
                    850.24
                  </gs:radius>
                </gs:Circle>
              </gp:location-info>
              <gp:usage-rules>
                <gbp:retransmission-allowed>true</gbp:retransmission-allowed>
                <gbp:note-well xml:lang="en">Neighbours only</gbp:note-well>
              </gp:usage-rules>
              <gp:method>Wiremap</gp:method>
            </gp:geopriv>
            <dm:timestamp>2007-06-22T20:57:29Z</dm:timestamp>
          </dm:person>
        </presence>
        """

    @Test func readsRFC5491CirclesInAPersonAndKeepsCivicLocationsWithoutPosition() throws {
        let document = try PresenceDocument(decoding: Self.rfc5491Example)
        #expect(document.tuples.first?.status.location == PresenceLocation(position: nil))
        let location = try #require(document.persons.first?.location)
        #expect(location.position == PresenceGeodeticPosition(latitude: 42.5463, longitude: -73.2512, uncertaintyRadius: 850.24))
        #expect(location.usageRules.retransmissionAllowed)
        #expect(location.usageRules.noteWell == "Neighbours only")
        #expect(location.method == "Wiremap")
    }

    /// What baresip's presence module (modules/presence/publisher.c and notifier.c) sends: CRLF line
    /// ends, `standalone="no"`, an empty `<rpid:activities/>` in `<dm:person id="p4159">`, tuple
    /// `t4109`, and its typo `unkown` as basic status when the status is unknown.
    static func baresip(basic: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n"
            + "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
            + "    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n"
            + "    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n"
            + "    entity=\"sip:alice@example.com\">\r\n"
            + "  <dm:person id=\"p4159\"><rpid:activities/></dm:person>\r\n"
            + "  <tuple id=\"t4109\">\r\n"
            + "    <status>\r\n"
            + "      <basic>\(basic)</basic>\r\n"
            + "    </status>\r\n"
            + "    <contact>sip:alice@example.com</contact>\r\n"
            + "  </tuple>\r\n"
            + "</presence>\r\n"
    }

    @Test func readsBaresipsPublicationsIncludingItsUnknownStatusTypo() throws {
        let open = try PresenceDocument(decoding: Self.baresip(basic: "open"))
        #expect(open.entity == "sip:alice@example.com")
        #expect(open.basicStatus == .open)
        #expect(open.tuples.first?.contact == PresenceContact(uri: "sip:alice@example.com"))
        #expect(open.persons == [PresencePerson(id: "p4159")])
        #expect(try PresenceDocument(decoding: Self.baresip(basic: "closed")).basicStatus == .closed)
        let unknown = try PresenceDocument(decoding: Self.baresip(basic: "unkown"))
        #expect(unknown.basicStatus == nil)
        #expect(unknown.tuples.count == 1)
    }

    /// What Kamailio's presence_xml sends: its "dummy" body when nothing is published
    /// (notify_body.c, `PRESENCE_EMPTY_BODY`), re-declaring namespaces on children and pretty-printed by
    /// xmlDocDumpFormatMemory; and an aggregate of two publications, which appends the second
    /// document's children after the first's (so tuples, notes and persons interleave).
    static let kamailioDummy = """
        <?xml version="1.0" encoding="UTF-8"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" \
        xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" xmlns:c="urn:ietf:params:xml:ns:pidf:cipid" entity="sip:bob@example.com">
          <tuple xmlns="urn:ietf:params:xml:ns:pidf" id="615293b33c62dec073e05d9421e9f48b">
            <status>
              <basic>open</basic>
            </status>
          </tuple>
          <note xmlns="urn:ietf:params:xml:ns:pidf">Available</note>
          <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="1">
            <rpid:activities/>
            <dm:note>Available</dm:note>
          </dm:person>
        </presence>
        """

    static let kamailioAggregate = """
        <?xml version="1.0"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" \
        xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@example.com">
          <tuple id="0x7f3a01">
            <status>
              <basic>closed</basic>
            </status>
          </tuple>
          <dm:person id="p1">
            <rpid:activities>
              <rpid:on-the-phone/>
            </rpid:activities>
          </dm:person>
          <tuple id="0x7f3a02">
            <status>
              <basic>open</basic>
            </status>
            <contact priority="0.5">sip:bob@198.51.100.7:5060</contact>
          </tuple>
          <note>Desk phone</note>
          <dm:person id="p2">
            <rpid:activities>
              <rpid:meeting/>
              <rpid:on-the-phone/>
            </rpid:activities>
          </dm:person>
        </presence>
        """

    @Test func readsKamailiosDummyAndAggregatedBodies() throws {
        let dummy = try PresenceDocument(decoding: Self.kamailioDummy)
        #expect(dummy.entity == "sip:bob@example.com")
        #expect(dummy.basicStatus == .open)
        #expect(dummy.notes == ["Available"])
        #expect(dummy.persons == [PresencePerson(id: "1", notes: ["Available"])])

        let aggregate = try PresenceDocument(decoding: Self.kamailioAggregate)
        #expect(aggregate.tuples.map(\.id) == ["0x7f3a01", "0x7f3a02"])
        #expect(aggregate.basicStatus == .open)
        #expect(aggregate.notes == ["Desk phone"])
        #expect(aggregate.persons.map(\.id) == ["p1", "p2"])
        #expect(aggregate.activities == [.onThePhone, .meeting])
    }

    @Test func readsActivitiesGivenInATupleOrItsStatusByPreDataModelRPID() throws {
        let text = """
            <presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
                entity="sip:carol@example.com">
              <tuple id="a"><status><basic>open</basic><rpid:activities><rpid:busy/></rpid:activities></status></tuple>
              <tuple id="b"><status><basic>open</basic></status>
                <rpid:activities><rpid:unknown/></rpid:activities></tuple>
              <tuple id="c"><status/>
                <rpid:activities><rpid:other> gardening </rpid:other><x:skiing xmlns:x="urn:example:x"/></rpid:activities>
              </tuple>
            </presence>
            """
        let document = try PresenceDocument(decoding: text)
        #expect(document.tuples.map(\.status.activities) == [[.busy], [.unknown], [.other("gardening"), .other("skiing")]])
        #expect(document.activities == [.busy, .unknown, .other("gardening"), .other("skiing")])
    }

    @Test func acceptsDocumentsMissingRequiredAndOptionalParts() throws {
        let text = """
            <presence xmlns="urn:ietf:params:xml:ns:pidf">
              <tuple><contact priority="high">sip:x@example.com</contact><timestamp>yesterday</timestamp></tuple>
              <tuple id="t2"><status><basic> CLOSED </basic></status><contact priority="7">sip:y@example.com</contact></tuple>
            </presence>
            """
        let document = try PresenceDocument(decoding: text)
        #expect(document.entity == "")
        #expect(document.tuples.count == 2)
        #expect(document.tuples[0].id == "")
        #expect(document.tuples[0].status == PresenceStatus())
        #expect(document.tuples[0].contact == PresenceContact(uri: "sip:x@example.com"))
        #expect(document.tuples[0].timestamp == nil)
        #expect(document.tuples[1].status.basic == .closed)
        #expect(document.tuples[1].contact?.priority == nil)
    }

    @Test func readsAPresenceRootWithoutNamespaceOrInTheCPIMDraftNamespace() throws {
        let plain = try PresenceDocument(
            decoding: "<presence entity=\"sip:d@example.com\"><tuple id=\"t\"><status><basic>open</basic></status></tuple></presence>")
        #expect(plain.basicStatus == .open)
        let cpim = try PresenceDocument(
            decoding: "<presence xmlns=\"urn:ietf:params:xml:ns:cpim-pidf\" entity=\"pres:d@example.com\">"
                + "<tuple id=\"t\"><status><basic>closed</basic></status></tuple></presence>")
        #expect(cpim.basicStatus == .closed)
    }

    @Test(arguments: [
        ("<?xml version=\"1.0\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@x\">\n<tuple id=\"t\">\n<status>\n</tuple>\n</presence>", 5),
        ("hello, I am not XML", 1),
        ("", 1),
        ("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n entity=\"sip:a@x\">\n<note>unclosed", 3),
        ("<?xml version=\"1.0\"?>\n\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@x\"><p:note/></presence>", 3),
    ])
    func malformedInputIsATypedErrorNamingTheLine(text: String, line: Int) {
        do {
            let document = try PresenceDocument(decoding: text)
            Issue.record("decoded \(document)")
        } catch {
            #expect(error.code == .notXML)
            #expect(error.line == line)
            #expect(error.description.hasPrefix("PIDF body line \(line) is not well-formed XML: "))
        }
    }

    @Test(arguments: [
        ("<?xml version=\"1.0\"?>\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" state=\"full\"/>", 2, "reginfo"),
        ("<presence xmlns=\"urn:example:not-pidf\" entity=\"sip:a@x\"/>", 1, "presence"),
        ("<?xml version=\"1.0\"?>\n\n\n<tuple xmlns=\"urn:ietf:params:xml:ns:pidf\" id=\"t\"/>", 4, "tuple"),
    ])
    func aDocumentWithAnotherRootIsATypedErrorNamingTheLineAndRoot(text: String, line: Int, root: String) {
        do {
            let document = try PresenceDocument(decoding: text)
            Issue.record("decoded \(document)")
        } catch {
            #expect(error.code == .notPIDF)
            #expect(error.line == line)
            #expect(error.detail.contains("}\(root)>"))
        }
    }

    @Test func externalEntitiesAreNeitherReadNorExpanded() throws {
        let text = """
            <?xml version="1.0"?>
            <!DOCTYPE presence [
              <!ENTITY secret SYSTEM "file:///etc/passwd">
              <!ENTITY remote SYSTEM "http://192.0.2.1/x">
            ]>
            <presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com">
              <tuple id="t"><status><basic>open</basic></status><note>&secret;</note></tuple>
              <note>before&remote;after</note>
            </presence>
            """
        let document = try PresenceDocument(decoding: text)
        #expect(document.tuples.first?.notes == [PresenceNote("")])
        #expect(document.notes == [PresenceNote("beforeafter")])
        #expect(document.basicStatus == .open)
    }

    @Test func entityExpansionBombsAreRefused() {
        var text = "<?xml version=\"1.0\"?>\n<!DOCTYPE presence [\n<!ENTITY a0 \"lol\">\n"
        for level in 1...12 {
            let previous = "&a\(level - 1);"
            text += "<!ENTITY a\(level) \"\(String(repeating: previous, count: 10))\">\n"
        }
        text += "]>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"pres:a@x\"><note>&a12;</note></presence>"
        do {
            let document = try PresenceDocument(decoding: text)
            // Without entity substitution the reference is kept unexpanded and contributes no text.
            #expect(document.notes.allSatisfy { $0.text.utf8.count < 100 })
        } catch {
            #expect(error.code == .notXML)
        }
    }

    @Test func anEventBodyOfAnotherMediaTypeIsRefused() throws {
        let body = try Samples.everything.eventBody()
        #expect(body.contentType == "application/pidf+xml")
        #expect(try PresenceDocument(eventBody: body) == Samples.everything)
        #expect(throws: PresenceError.self) {
            try PresenceDocument(eventBody: .init(contentType: "application/xpidf+xml", bytes: body.bytes))
        }
    }
}
