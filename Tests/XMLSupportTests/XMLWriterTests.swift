import Testing
import XMLSupport

private let pidf = "urn:ietf:params:xml:ns:pidf"
private let rpid = "urn:ietf:params:xml:ns:pidf:rpid"
private let dataModel = "urn:ietf:params:xml:ns:pidf:data-model"

@Test func writesNamespacesAndPrefixes() throws {
    let root = XMLElement(
        name: "presence", namespaceURI: pidf, attributes: [XMLAttribute(name: "entity", value: "sip:a@example.com")],
        children: [
            XMLElement(name: "tuple", namespaceURI: pidf, attributes: [XMLAttribute(name: "id", value: "t1")],
                children: [XMLElement(name: "status", namespaceURI: pidf, children: [
                    XMLElement(name: "basic", namespaceURI: pidf, text: "open"),
                ])]),
            XMLElement(name: "person", namespaceURI: dataModel, children: [
                XMLElement(name: "activities", namespaceURI: rpid, children: [XMLElement(name: "busy", namespaceURI: rpid)])
            ]),
        ])
    let xml = try XMLWriter(preferredPrefixes: [rpid: "rpid"]).string(for: root)
    #expect(
        xml == """
            <?xml version="1.0" encoding="UTF-8"?>
            <presence xmlns="\(pidf)" xmlns:ns1="\(dataModel)" xmlns:rpid="\(rpid)" entity="sip:a@example.com">\
            <tuple id="t1"><status><basic>open</basic></status></tuple>\
            <ns1:person><rpid:activities><rpid:busy/></rpid:activities></ns1:person></presence>
            """)
    #expect(try XMLDocument(parsing: xml).root == root)
}

@Test func escapesTextAndAttributesSoTheyRoundTrip() throws {
    let awkward = "a & b < c > d \"q\" 'apos' ]]> tab\there\nnew line\r\nCRLF ünïcödé 🔥"
    let root = XMLElement(
        name: "note", namespaceURI: pidf,
        attributes: [
            XMLAttribute(name: "title", value: awkward),
            XMLAttribute(name: "lang", namespaceURI: "http://www.w3.org/XML/1998/namespace", value: "en"),
            XMLAttribute(name: "extra", namespaceURI: rpid, value: "x"),
        ],
        children: [XMLElement(name: "plain", text: awkward)],
        text: awkward)
    let xml = try XMLWriter().string(for: root)
    #expect(xml.contains("xml:lang=\"en\""))
    #expect(xml.contains("<plain xmlns=\"\">"), "a no-namespace child undeclares the default namespace")
    let parsed = try XMLDocument(parsing: xml).root
    #expect(parsed == root)
    #expect(parsed.attribute("title") == awkward)
    #expect(parsed.children.first?.namespaceURI == nil)
    #expect(parsed.children.first?.text == awkward)
}

@Test func refusesUnrepresentableCharactersAndBadNames() {
    #expect(throws: XMLError.self) { try XMLWriter().string(for: XMLElement(name: "a", text: "nul\u{0}")) }
    #expect(throws: XMLError.self) { try XMLWriter().string(for: XMLElement(name: "a", text: "bell\u{7}")) }
    #expect(throws: XMLError.self) { try XMLWriter().string(for: XMLElement(name: "1a")) }
    #expect(throws: XMLError.self) { try XMLWriter().string(for: XMLElement(name: "a b")) }
    #expect(throws: XMLError.self) { try XMLWriter().string(for: XMLElement(name: "p:a")) }
    #expect(throws: XMLError.self) {
        try XMLWriter().string(for: XMLElement(name: "a", attributes: [XMLAttribute(name: "", value: "x")]))
    }
}

@Test func reDeclaresRootNamespaceBelowANoNamespaceElement() throws {
    let root = XMLElement(name: "r", namespaceURI: "urn:r", children: [
        XMLElement(name: "plain", children: [XMLElement(name: "back", namespaceURI: "urn:r", text: "1")])
    ])
    let xml = try XMLWriter(includesDeclaration: false).string(for: root)
    #expect(xml == "<r xmlns=\"urn:r\"><plain xmlns=\"\"><back xmlns=\"urn:r\">1</back></plain></r>")
    #expect(try XMLDocument(parsing: xml).root == root)
}

@Test func avoidsReservedAndDuplicatePreferredPrefixes() throws {
    let root = XMLElement(name: "r", children: [
        XMLElement(name: "a", namespaceURI: "urn:a"),
        XMLElement(name: "b", namespaceURI: "urn:b"),
        XMLElement(name: "c", namespaceURI: "urn:c"),
    ])
    let writer = XMLWriter(preferredPrefixes: ["urn:a": "p", "urn:b": "p", "urn:c": "xmlfoo"], includesDeclaration: false)
    let xml = try writer.string(for: root)
    #expect(xml == "<r xmlns:p=\"urn:a\" xmlns:ns1=\"urn:b\" xmlns:ns2=\"urn:c\"><p:a/><ns1:b/><ns2:c/></r>")
    #expect(try XMLDocument(parsing: xml).root == root)
}
