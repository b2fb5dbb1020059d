import Testing
import XMLSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let sensorSchema = """
    <?xml version="1.0"?>
    <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
               targetNamespace="urn:smf:test:sensor" xmlns="urn:smf:test:sensor"
               elementFormDefault="qualified">
      <xs:element name="sensors">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="sensor" maxOccurs="unbounded">
              <xs:complexType>
                <xs:sequence>
                  <xs:element name="reading" type="xs:decimal"/>
                </xs:sequence>
                <xs:attribute name="id" type="xs:ID" use="required"/>
                <xs:attribute name="kind" use="required">
                  <xs:simpleType>
                    <xs:restriction base="xs:string">
                      <xs:enumeration value="temperature"/>
                      <xs:enumeration value="smoke"/>
                    </xs:restriction>
                  </xs:simpleType>
                </xs:attribute>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:schema>
    """

@Test func validDocumentHasNoDiagnostics() throws {
    let schema = try XMLSchema(string: sensorSchema, fileName: "sensor.xsd")
    let document = try XMLDocument(
        parsing: """
            <sensors xmlns="urn:smf:test:sensor">
              <sensor id="s1" kind="smoke"><reading>0.5</reading></sensor>
              <sensor id="s2" kind="temperature"><reading>21</reading></sensor>
            </sensors>
            """, fileName: "ok.xml")
    #expect(schema.validate(document) == [])
    #expect(schema.isValid(document))
}

@Test func invalidDocumentReportsEveryErrorWithItsLine() throws {
    let schema = try XMLSchema(string: sensorSchema, fileName: "sensor.xsd")
    let document = try XMLDocument(
        parsing: """
            <sensors xmlns="urn:smf:test:sensor">
              <sensor id="s1" kind="smoke"><reading>0.5</reading></sensor>
              <sensor id="s2" kind="humidity"><reading>21</reading></sensor>
              <sensor kind="smoke"><reading>warm</reading></sensor>
              <sensor id="s4" kind="smoke"><extra/></sensor>
            </sensors>
            """, fileName: "bad.xml")
    let diagnostics = schema.validate(document)
    let errors = diagnostics.filter(\.isError)
    #expect(!schema.isValid(document))
    // kind="humidity" (line 3), missing id (line 4), "warm" not a decimal (line 4), unexpected <extra> (line 5)
    #expect(errors.count >= 4)
    #expect(Set(errors.map(\.line)) == [3, 4, 5])
    #expect(errors.allSatisfy { $0.file == "bad.xml" })
    #expect(errors.contains { $0.line == 3 && $0.message.contains("humidity") })
    #expect(errors.contains { $0.line == 4 && $0.message.contains("warm") })
    #expect(errors.contains { $0.line == 5 && $0.message.contains("extra") })
    let first = try #require(errors.first)
    #expect(first.column == 0)
    #expect(first.description == "bad.xml:3: error: \(first.message)")
}

@Test func reportsAnInvalidSchemaWithItsDiagnostics() {
    let broken = """
        <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
          <xs:element name="a" type="xs:noSuchType"/>
        </xs:schema>
        """
    #expect {
        try XMLSchema(string: broken, fileName: "broken.xsd")
    } throws: { error in
        guard let error = error as? XMLError, error.code == .invalidSchema else { return false }
        return error.diagnostics.contains { $0.file == "broken.xsd" && $0.line == 2 && $0.message.contains("noSuchType") }
    }
}

@Test func reportsAMalformedSchemaAsInvalidSchema() {
    #expect {
        try XMLSchema(string: "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n<oops>", fileName: "m.xsd")
    } throws: { error in
        guard let error = error as? XMLError else { return false }
        return error.code == .invalidSchema && error.diagnostics.contains { $0.file == "m.xsd" && $0.line >= 2 }
    }
}

@Test func loadsSchemaFromFileAndReportsMissingFile() throws {
    let path = "/tmp/smf-schema-\(getpid()).xsd"
    let file = try #require(fopen(path, "w"))
    fputs(sensorSchema, file)
    fclose(file)
    defer { unlink(path) }

    let schema = try XMLSchema(contentsOf: path)
    let document = try XMLDocument(parsing: "<sensors xmlns=\"urn:smf:test:sensor\"/>", fileName: "empty.xml")
    let diagnostics = schema.validate(document)
    #expect(diagnostics.contains { $0.isError && $0.line == 1 && $0.file == "empty.xml" })

    #expect(throws: XMLError.self) { try XMLSchema(contentsOf: "/nonexistent/dir/none.xsd") }
}

@Test func validatesTheSameDocumentFromConcurrentTasks() async throws {
    let schema = try XMLSchema(string: sensorSchema, fileName: "sensor.xsd")
    let document = try XMLDocument(
        parsing: "<sensors xmlns=\"urn:smf:test:sensor\">\n<sensor id=\"a\" kind=\"x\"><reading>1</reading></sensor></sensors>",
        fileName: "c.xml")
    let counts = await withTaskGroup(of: [Int].self) { group in
        for _ in 0..<8 {
            group.addTask { schema.validate(document).filter(\.isError).map(\.line) }
        }
        return await group.reduce(into: []) { $0.append($1) }
    }
    #expect(counts.count == 8)
    #expect(counts.allSatisfy { $0 == [2] })
}
