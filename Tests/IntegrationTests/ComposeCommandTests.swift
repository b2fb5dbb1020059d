import Foundation
import Testing

/// `smf compose …` through the built binary: no node runs.
@Suite final class ComposeCommandTests {
    /// Where this test's files go; removed when the test ends.
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-compose-\(UUID().uuidString)")

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    private let shipped = [
        "Services/building-surveillance/variant1.xml",
        "Services/building-surveillance/variant2.xml",
        "Services/energy-community/community.xml",
    ]

    /// Writes `text` to a fresh temporary file and returns its path.
    private func temporaryFile(_ text: String, name: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file.path
    }

    @Test func validateAcceptsTheShippedCompositions() async throws {
        let result = try await runTool(smfBinary(), ["compose", "validate"] + shipped, currentDirectory: packageRoot)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.split(separator: "\n").map(String.init) == shipped.map { "\($0): ok" })
    }

    @Test func validateReportsEverySchemaErrorWithItsLineAndExitsOne() async throws {
        let path = try temporaryFile(
            """
            <?xml version="1.0"?>
            <composition xmlns="urn:smf:composition:1" name="x" community="c" subcommunity="c/s">
              <services>
                <service id="a" type="sensor-recorder" placement="anywhere"/>
                <service type="sensor-forwarder"/>
              </services>
              <wires><wire from="a" to="b.c"/></wires>
            </composition>

            """, name: "schema-invalid.xml")
        let result = try await runTool(smfBinary(), ["compose", "validate", path])
        #expect(result.status == 1)
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.output)")
        #expect(lines.first?.hasPrefix("\(path):4:1: error: Element 'service', attribute 'placement'") == true)
        #expect(lines.dropFirst().first?.hasPrefix("\(path):5:1: error: Element 'service': The attribute 'id' is required") == true)
        #expect(lines.last?.hasPrefix("\(path):7:1: error: Element 'wire', attribute 'from'") == true)
    }

    @Test func validateReportsSemanticErrorsOfOneFileAndOkForTheOther() async throws {
        let path = try temporaryFile(
            """
            <composition xmlns="urn:smf:composition:1" name="x" community="c" subcommunity="c/s">
              <services>
                <service id="rec" type="sensor-recorder"/>
                <service id="eval" type="event-evaluator">
                  <rule id="fire" alarm="fire"><threshold kind="smoke" above="0.3"/></rule>
                </service>
                <service id="ghost" type="smoke-alarm"/>
              </services>
              <wires><wire from="rec.forwards" to="eval.readings"/></wires>
            </composition>

            """, name: "semantic.xml")
        let good = packageRoot.appendingPathComponent(shipped[2]).path
        let result = try await runTool(smfBinary(), ["compose", "validate", path, good])
        #expect(result.status == 1)
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(good): ok"))
        #expect(lines.contains("\(path):4:1: error: service 'eval' (event-evaluator) is missing required parameter 'mode' (pull|push: pull: it asks the recorder itself; push: values are sent to it through a forwarder)"))
        #expect(lines.contains { $0.hasPrefix("\(path):7:1: error: service 'ghost' has unknown service type 'smoke-alarm'") })
        #expect(lines.contains("\(path):9:1: error: wire rec.forwards → eval.readings: type mismatch: rec.forwards sends forward-request (event package m2m-sensor-forward) but eval.readings takes sensor-reading (event package m2m-sensor)"))
        #expect(lines.count == 4, "\(result.output)")
    }

    @Test func graphOutputRendersWithDot() async throws {
        let dot = try requireTool("dot")
        for composition in shipped {
            let graph = try await runTool(smfBinary(), ["compose", "graph", composition], currentDirectory: packageRoot)
            #expect(graph.status == 0, "\(graph.output)")
            #expect(graph.output.hasPrefix("digraph "))
            let file = try temporaryFile(graph.output, name: "graph.dot")
            let svg = try await runTool(dot, ["-Tsvg", file])
            #expect(svg.status == 0, "\(svg.output)")
            #expect(svg.output.contains("<svg"))
            #expect(svg.output.contains("supporter") || svg.output.contains("coordinator"))
        }
    }

    @Test func graphOfAnInvalidCompositionPrintsTheProblemsAndExitsOne() async throws {
        let path = try temporaryFile("<composition xmlns=\"urn:smf:composition:1\">\n<services>\n</composition>\n", name: "broken.xml")
        let result = try await runTool(smfBinary(), ["compose", "graph", path])
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("\(path):3:15: error: Opening and ending tag mismatch"), "\(result.output)")
        #expect(!result.output.contains("digraph"))
    }

    @Test func schemaCommandPrintsTheBundledSchema() async throws {
        let result = try await runTool(smfBinary(), ["compose", "schema"])
        let file = try String(contentsOf: packageRoot.appendingPathComponent("Schemas/composition-1.xsd"), encoding: .utf8)
        #expect(result.status == 0)
        #expect(result.output == file)
    }

    @Test func typesCommandListsPortsAndParameters() async throws {
        let result = try await runTool(smfBinary(), ["compose", "types", "sensor-forwarder"])
        #expect(result.status == 0)
        #expect(result.output.contains("in  requests: forward-request via m2m-sensor-forward (must be wired)"))
        #expect(result.output.contains("out readings: sensor-reading via m2m-sensor filters: building, kind, sensor"))
        let unknown = try await runTool(smfBinary(), ["compose", "types", "teleporter"])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("unknown service type teleporter"))
    }
}
