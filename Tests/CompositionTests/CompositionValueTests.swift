import Testing

@testable import Composition

@Suite struct CompositionValueTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("1.5m", .seconds(90)), ("2h", .seconds(7200)),
        ("0s", .zero),
    ])
    func durationsReadNumberAndUnit(text: String, expected: Duration) {
        #expect(CompositionDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "s", "30", "30 s", "-5s", "5d", "1e3s", "99999999999h"])
    func malformedDurationsAreRejected(text: String) {
        #expect(CompositionDuration.parse(text) == nil)
    }

    @Test func timeWindowsOverMidnightBelongToTheDayTheyStart() {
        let window = TimeWindow(days: [.fri], fromMinute: 22 * 60, toMinute: 6 * 60)
        #expect(window.contains(day: .fri, minute: 23 * 60))
        #expect(window.contains(day: .sat, minute: 5 * 60))
        #expect(!window.contains(day: .sat, minute: 23 * 60))
        #expect(!window.contains(day: .fri, minute: 5 * 60))
        #expect(!window.contains(day: .sat, minute: 6 * 60))
        let daily = TimeWindow(fromMinute: 8 * 60, toMinute: 18 * 60)
        #expect(daily.contains(day: .sun, minute: 8 * 60))
        #expect(!daily.contains(day: .sun, minute: 18 * 60))
    }

    @Test func parameterTypesExplainWhatIsWrong() {
        #expect(ParameterType.integer.problem(with: "12") == nil)
        #expect(ParameterType.integer.problem(with: "1.5") == "'1.5' is not a whole number")
        #expect(ParameterType.decimal.problem(with: "nan") == "'nan' is not a decimal number")
        #expect(ParameterType.boolean.problem(with: "yes") == "'yes' is not true or false")
        #expect(ParameterType.sipURI.problem(with: "sip:alice@example.com") == nil)
        #expect(ParameterType.sipURI.problem(with: "http://x") == "'http://x' is not a sip: or sips: URI")
        #expect(ParameterType.oneOf(["a", "b"]).problem(with: "c") == "'c' is not one of a, b")
        #expect(ParameterType.string.problem(with: "") == "is empty")
    }

    @Test func placementsReadTheirAttributeForm() {
        #expect(Placement(attribute: "local") == .local)
        #expect(Placement(attribute: "any") == .any)
        #expect(Placement(attribute: "peer:sip:bob@10.0.0.2") == .peer("sip:bob@10.0.0.2"))
        #expect(Placement(attribute: "peer:") == nil)
        #expect(Placement.peer("x").description == "peer:x")
    }

    @Test func aWiresPortsComeFromTheCatalogue() throws {
        let text = document(
            services: "<service id=\"rec\" type=\"sensor-recorder\"/>\n<service id=\"fwd\" type=\"sensor-forwarder\"/>",
            wires: "<wire from=\"rec.forwards\" to=\"fwd.requests\"/>\n<wire from=\"rec.readings\" to=\"fwd.nope\"/>")
        let composition = try #require(load(text).composition)
        let ports = try #require(ServiceTypeCatalog.builtIn.ports(of: composition.wires[0], in: composition))
        #expect(ports.output.eventPackage == M2MEventPackage.sensorForward)
        #expect(ports.input.name == "requests")
        #expect(ServiceTypeCatalog.builtIn.ports(of: composition.wires[1], in: composition) == nil)
    }

    @Test func everyRequiredBuiltInInputCanBeFedByABuiltInOutput() {
        let catalog = ServiceTypeCatalog.builtIn
        #expect(catalog.names.count == 16)
        let outputs = Set(catalog.types.values.flatMap(\.outputs).map { "\($0.eventPackage)/\($0.valueType)" })
        let inputs = Set(catalog.types.values.flatMap(\.inputs).filter(\.isRequired).map { "\($0.eventPackage)/\($0.valueType)" })
        #expect(inputs.subtracting(outputs).isEmpty, "inputs nothing can feed: \(inputs.subtracting(outputs))")
    }
}
