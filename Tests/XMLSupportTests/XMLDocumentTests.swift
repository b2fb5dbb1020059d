import Testing
import XMLSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let pidfNamespace = "urn:ietf:params:xml:ns:pidf"

@Test func parsesNamespacedDocumentIntoElementTreeWithLines() throws {
    let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <presence xmlns="urn:ietf:params:xml:ns:pidf"
                  xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
                  entity="sip:sensor-1@example.com">
          <tuple id="t1">
            <status><basic>open</basic></status>
            <note xml:lang="en">fire &amp; smoke &lt;alarm&gt;<![CDATA[ <raw> ]]></note>
          </tuple>
          <dm:device id="d1"/>
        </presence>
        """
    let document = try XMLDocument(parsing: xml, fileName: "presence.xml")
    let root = document.root
    #expect(root.name == "presence")
    #expect(root.namespaceURI == pidfNamespace)
    #expect(root.line == 4, "libxml2 records the line where the start tag ends")
    #expect(root.attribute("entity") == "sip:sensor-1@example.com")
    #expect(root.attributes.count == 1, "namespace declarations are not attributes")

    let tuple = try #require(root.firstChild(named: "tuple", namespaceURI: pidfNamespace))
    #expect(tuple.line == 5)
    #expect(tuple.attribute("id") == "t1")
    let basic = try #require(
        tuple.firstChild(named: "status", namespaceURI: pidfNamespace)?
            .firstChild(named: "basic", namespaceURI: pidfNamespace))
    #expect(basic.text == "open")
    #expect(basic.line == 6)

    let note = try #require(tuple.firstChild(named: "note", namespaceURI: pidfNamespace))
    #expect(note.text == "fire & smoke <alarm> <raw> ")
    #expect(note.attribute("lang", namespaceURI: "http://www.w3.org/XML/1998/namespace") == "en")

    let device = try #require(root.firstChild(named: "device", namespaceURI: "urn:ietf:params:xml:ns:pidf:data-model"))
    #expect(device.line == 9)
    #expect(root.firstChild(named: "device", namespaceURI: pidfNamespace) == nil, "namespace must matter")
    #expect(document.warnings.isEmpty)
}

@Test func reportsMalformedXMLWithFileLineAndColumn() {
    let xml = "<a>\n  <b>\n  </c>\n</a>\n"
    #expect {
        try XMLDocument(parsing: xml, fileName: "broken.xml")
    } throws: { error in
        guard let error = error as? XMLError, error.code == .notWellFormed else { return false }
        guard let first = error.diagnostics.first else { return false }
        return first.file == "broken.xml" && first.line == 3 && first.column > 0 && first.severity == .fatal
            && first.message.contains("mismatch")
            && first.description.hasPrefix("broken.xml:3:\(first.column): error: ")
            && error.description.hasPrefix("broken.xml is not well-formed XML: broken.xml:3:")
    }
}

@Test func rejectsUndeclaredNamespacePrefix() {
    #expect(throws: XMLError.self) {
        try XMLDocument(parsing: "<root>\n<x:child/>\n</root>", fileName: "ns.xml")
    }
    do {
        _ = try XMLDocument(parsing: "<root>\n<x:child/>\n</root>", fileName: "ns.xml")
    } catch {
        #expect(error.diagnostics.contains { $0.line == 2 && $0.message.contains("x") })
    }
}

@Test func rejectsEmptyAndTruncatedInput() {
    #expect(throws: XMLError.self) { try XMLDocument(parsing: [UInt8](), fileName: nil) }
    #expect(throws: XMLError.self) { try XMLDocument(parsing: "<presence xmlns=\"urn:x\"><tuple>", fileName: nil) }
    do {
        _ = try XMLDocument(parsing: Array("<a>".utf8))
    } catch {
        #expect(error.diagnostics.allSatisfy { $0.file == "<memory>" })
    }
}

@Test func doesNotExpandExternalFileEntity() throws {
    let secretPath = "/tmp/smf-xxe-secret-\(getpid()).txt"
    let secret = "TOP-SECRET-\(getpid())"
    let file = try #require(fopen(secretPath, "w"))
    fputs(secret, file)
    fclose(file)
    defer { unlink(secretPath) }

    let xml = """
        <?xml version="1.0"?>
        <!DOCTYPE note [ <!ENTITY xxe SYSTEM "file://\(secretPath)"> ]>
        <note attr="x">before &xxe; after</note>
        """
    let document = try XMLDocument(parsing: xml, fileName: "xxe.xml")
    #expect(!document.root.allText.contains(secret))
    #expect(document.root.text == "before  after", "the entity reference is left unexpanded")
}

@Test func doesNotExpandParameterEntityFromNetworkOrFile() throws {
    let xml = """
        <?xml version="1.0"?>
        <!DOCTYPE r [ <!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext; ]>
        <r>ok</r>
        """
    let document = try XMLDocument(parsing: xml, fileName: "pe.xml")
    #expect(document.root.text == "ok")
}

@Test func keepsLineNumbersBeyond65535() throws {
    let xml = "<r>" + String(repeating: "\n", count: 70_000) + "<deep/></r>"
    let document = try XMLDocument(parsing: xml)
    #expect(document.root.children.first?.line == 70_001)
}

@Test func parsesConcurrentlyFromManyTasks() async throws {
    let lines = try await withThrowingTaskGroup(of: Int.self) { group in
        for index in 0..<16 {
            group.addTask {
                let padding = String(repeating: "\n", count: index)
                let document = try XMLDocument(parsing: "<a>\(padding)<b/></a>")
                return document.root.children[0].line
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(Set(lines) == Set(1...16))
}
