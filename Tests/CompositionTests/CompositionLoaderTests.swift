import Foundation
import Rules
import Testing

@testable import Composition

@Suite struct CompositionLoaderTests {
    @Test func bundledSchemaIsByteIdenticalToTheSchemaFile() throws {
        let file = packageRoot.appendingPathComponent("Schemas/composition-1.xsd")
        let data = try Data(contentsOf: file)
        #expect(Array(data) == Array(CompositionSchema.text.utf8))
        #expect(throws: Never.self) { try CompositionSchema.compiled.get() }
    }

    @Test(arguments: [
        "Services/building-surveillance/variant1.xml",
        "Services/building-surveillance/variant2.xml",
        "Services/energy-community/community.xml",
        "Services/energy-community/feeder-3-nodes.xml",
        "Services/probes/chain.xml",
    ])
    func shippedCompositionsAreValid(path: String) {
        let result = CompositionLoader().load(contentsOf: packageRoot.appendingPathComponent(path).path)
        #expect(result.diagnostics.map(\.description) == [])
        #expect(result.isValid)
    }

    @Test func readsServicesPlacementsConfigurationWiresFiltersAndConstraints() throws {
        let path = packageRoot.appendingPathComponent("Services/building-surveillance/variant2.xml").path
        let composition = try CompositionLoader().composition(contentsOf: path)
        #expect(composition.name == "building-surveillance-v2")
        #expect(composition.community == "north-street")
        #expect(composition.subcommunity == "surveillance/north-street")
        #expect(composition.services.count == 8)
        let recorder = try #require(composition.service("recorder"))
        #expect(recorder.type == "sensor-recorder")
        #expect(recorder.placement == .peer("house-12"))
        #expect(recorder.value(of: "retention") == "168h")
        #expect(composition.service("night-watch")?.placement == .local)
        #expect(composition.service("registry")?.placement == .any)
        let motion = try #require(composition.wires.first { $0.id == "motion" })
        #expect(motion.from == PortReference(service: "recorder", port: "readings"))
        #expect(motion.to == PortReference(service: "night-watch", port: "readings"))
        #expect(motion.filters == [WireFilter(name: "building", value: "house-12"), WireFilter(name: "kind", value: "motion")])
        let night = try #require(composition.constraints.first { $0.service == "night-watch" })
        #expect(night.timeWindows == [TimeWindow(fromMinute: 22 * 60, toMinute: 6 * 60)])
        #expect(composition.constraints.first { $0.service == "recorder" }?.places == [.area("north-street")])
    }

    @Test func declaredRulesBecomeRulesTheEvaluatorRuns() throws {
        let path = packageRoot.appendingPathComponent("Services/building-surveillance/variant1.xml").path
        let composition = try CompositionLoader().composition(contentsOf: path)
        let evaluator = try #require(composition.service("evaluator"))
        #expect(evaluator.rules.map(\.rule.id) == ["fire", "intrusion"])
        let fire = try #require(evaluator.rules.first?.rule)
        #expect(fire.severity == .critical)
        guard case .any(let alternatives) = fire.condition else {
            Issue.record("fire is not an <any>: \(fire.condition)")
            return
        }
        #expect(alternatives.first == .count(RuleSelector(kind: "smoke"), .above(0.3), sensors: 2, within: .seconds(60)))

        var machine = try RuleEvaluator(rules: evaluator.rules.map(\.rule))
        let smoke = { (sensor: String, seconds: Int) in
            RuleReading(sensorID: sensor, building: "house-12", kind: "smoke", value: 0.4, time: .seconds(seconds))
        }
        #expect(machine.ingest(smoke("smoke-kitchen", 0)).isEmpty)
        #expect(machine.ingest(smoke("smoke-hall", 20)).map(\.alarmKind) == ["fire"])
    }

    @Test func eachSchemaErrorIsReportedWithItsLine() {
        let text = document(
            services: """
                <service id="a" type="sensor-recorder" placement="anywhere"/>
                <service type="sensor-forwarder"/>
                <bogus/>
                """,
            wires: "<wire from=\"a\" to=\"b.c\"/>")
        let found = problems(text)
        #expect(found.count == 4, "\(found)")
        #expect(found.first?.hasPrefix("test.xml:3:1: error: Element 'service', attribute 'placement'") == true)
        #expect(found.dropFirst().first?.hasPrefix("test.xml:4:1: error: Element 'service': The attribute 'id' is required") == true)
        #expect(found.dropFirst(2).first?.hasPrefix("test.xml:5:1: error: Element 'bogus'") == true)
        #expect(found.last?.hasPrefix("test.xml:8:1: error: Element 'wire', attribute 'from'") == true)
        #expect(load(text).composition == nil)
    }

    @Test func malformedXMLIsReportedWithLineAndColumn() {
        let found = problems("<composition xmlns=\"urn:smf:composition:1\">\n  <services>\n</composition>\n")
        #expect(found.first == "test.xml:3:15: error: Opening and ending tag mismatch: services line 2 and composition")
    }

    @Test func aDocumentThatIsNotACompositionSaysWhatItIs() {
        let found = problems("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"/>")
        #expect(found == [
            "test.xml:1:1: error: the root element is <{urn:ietf:params:xml:ns:pidf}presence>, not <composition> in namespace urn:smf:composition:1"
        ])
    }

    @Test func aMissingFileIsOneDiagnostic() {
        let result = CompositionLoader().load(contentsOf: "/nonexistent/composition.xml")
        #expect(result.diagnostics.map(\.description) == ["/nonexistent/composition.xml:1:1: error: no such file"])
    }
}

@Suite struct CompositionDocumentationTests {
    @Test func theSmallExampleInTheDocumentationIsValid() throws {
        let doc = try String(contentsOf: packageRoot.appendingPathComponent("docs/compositions.md"), encoding: .utf8)
        let start = try #require(doc.range(of: "<composition xmlns=\"urn:smf:composition:1\" name=\"smoke-watch\""))
        let end = try #require(doc.range(of: "</composition>", range: start.upperBound..<doc.endIndex))
        let example = String(doc[start.lowerBound..<end.upperBound])
        let result = CompositionLoader().load(bytes: Array(example.utf8), fileName: "docs/compositions.md")
        #expect(result.diagnostics.map(\.description) == [])
        #expect(result.composition?.services.map(\.id) == ["recorder", "watch"])
    }
}
