import Testing

@testable import Composition

/// Two services that wire cleanly: a forwarder fed by a recorder.
private let recorderAndForwarder = """
    <service id="rec" type="sensor-recorder"/>
    <service id="fwd" type="sensor-forwarder"/>
    """

@Suite struct CompositionCheckerTests {
    @Test func unknownServiceTypeIsNamedWithTheKnownOnes() {
        let found = problems(document(services: "<service id=\"x\" type=\"smoke-alarm\"/>"))
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("test.xml:3:1: error: service 'x' has unknown service type 'smoke-alarm'; known types: community-balance,") == true)
    }

    @Test func duplicateServiceIDsAreReportedAtTheSecond() {
        let found = problems(document(services: "<service id=\"a\" type=\"supporter-registry\"/>\n<service id=\"a\" type=\"supporter-registry\"/>"))
        #expect(found == ["test.xml:4:1: error: service id 'a' is already used on line 3"])
    }

    @Test func missingRequiredParameterIllTypedValueAndUnknownParameter() {
        let found = problems(
            document(services: """
                <service id="n" type="supporter-notifier">
                <param name="accept-timeout">soon</param>
                <param name="colour">red</param>
                </service>
                <service id="s" type="supporter-selector"/>
                """,
                wires: """
                <wire from="s.selections" to="n.selections"/>
                """))
        #expect(found.contains("test.xml:3:1: error: service 'n' (supporter-notifier) is missing required parameter 'variant' (notify|subscribe: notify: variant 1 (NOTIFY, or MESSAGE to plain phones); subscribe: variant 2)"))
        #expect(found.contains("test.xml:4:1: error: service 'n': parameter 'accept-timeout' must be duration, but 'soon' is not a duration such as 250ms, 30s, 5m or 2h"))
        #expect(found.contains { $0.hasPrefix("test.xml:5:1: error: service 'n' (supporter-notifier) has no parameter 'colour'; its parameters: variant,") })
    }

    @Test func aParameterSetTwiceIsReported() {
        let found = problems(document(services: """
            <service id="r" type="supporter-registry">
            <param name="registration-expiry">1h</param>
            <param name="registration-expiry">2h</param>
            </service>
            """))
        #expect(found == ["test.xml:5:1: error: service 'r': parameter 'registration-expiry' is already set on line 4"])
    }

    @Test func wireToAnUnknownServiceOrPort() {
        let found = problems(document(
            services: recorderAndForwarder,
            wires: """
                <wire from="rec.forwards" to="fwd.requests"/>
                <wire from="rec.nothing" to="fwd.requests"/>
                <wire from="ghost.readings" to="fwd.requests"/>
                """))
        #expect(found == [
            "test.xml:8:1: error: wire rec.nothing → fwd.requests: service 'rec' (sensor-recorder) has no output port 'nothing'; its outputs: readings, forwards",
            "test.xml:9:1: error: wire ghost.readings → fwd.requests: from 'ghost.readings' names service 'ghost', which is not in this composition",
        ])
    }

    @Test func anInputUsedAsAnOutputIsSaidToBeAnInput() {
        let found = problems(document(
            services: recorderAndForwarder,
            wires: "<wire from=\"rec.forwards\" to=\"fwd.requests\"/>\n<wire from=\"fwd.requests\" to=\"rec.readings\"/>"))
        #expect(found == [
            "test.xml:8:1: error: wire fwd.requests → rec.readings: 'requests' is an input of 'fwd' (sensor-forwarder), not an output; its outputs: readings"
        ])
    }

    @Test func wiresBetweenPortsOfDifferentTypesAreMismatches() {
        let found = problems(document(
            services: recorderAndForwarder,
            wires: "<wire from=\"rec.readings\" to=\"fwd.requests\"/>"))
        #expect(found == [
            "test.xml:7:1: error: wire rec.readings → fwd.requests: type mismatch: rec.readings sends sensor-reading (event package m2m-sensor) but fwd.requests takes forward-request (event package m2m-sensor-forward)"
        ])
    }

    @Test func filtersMustBeOnesTheProducingPortAccepts() {
        let found = problems(document(
            services: recorderAndForwarder,
            wires: """
                <wire from="rec.forwards" to="fwd.requests">
                <filter name="colour" value="red"/>
                <filter name="building" value="B1"/>
                <filter name="building" value="B2"/>
                </wire>
                """))
        #expect(found == [
            "test.xml:7:1: error: wire rec.forwards → fwd.requests: output rec.forwards has no filter 'colour' (its filters: building, sensor)",
            "test.xml:7:1: error: wire rec.forwards → fwd.requests: filter 'building' is given twice",
        ])
    }

    @Test func aServiceWhoseRequiredInputIsNeverWiredIsUnreachable() {
        let found = problems(document(services: recorderAndForwarder))
        #expect(found == [
            "test.xml:4:1: error: service 'fwd' is unreachable: its required input 'requests' (forward-request) is never wired"
        ])
    }

    @Test func aCycleIsAnErrorUnlessOneOfItsWiresIsFeedback() {
        let services = """
            <service id="coord" type="coordinator"/>
            <service id="flex" type="flexibility"><param name="household">h1</param></service>
            <service id="bal" type="community-balance"><param name="feeder">f</param></service>
            <service id="meter" type="household-meter"><param name="household">h1</param></service>
            """
        let wires = { (feedback: String) in
            """
            <wire from="meter.readings" to="bal.readings"/>
            <wire from="bal.balance" to="coord.balance"/>
            <wire from="flex.offers" to="coord.offers"/>
            <wire from="coord.advice" to="flex.advice"\(feedback)/>
            """
        }
        #expect(problems(document(services: services, wires: wires(""))) == [
            "test.xml:11:1: error: wire flex.offers → coord.offers closes the cycle coord → flex → coord; mark one of its wires feedback=\"true\" if the loop is intended"
        ])
        #expect(problems(document(services: services, wires: wires(" feedback=\"true\""))) == [])
    }

    @Test func rulesOnATypeThatTakesNoneAndRuleComponentsWithoutRules() {
        let found = problems(document(services: """
            <service id="reg" type="supporter-registry">
            <rule id="r" alarm="fire"><threshold above="1"/></rule>
            </service>
            <service id="rec" type="sensor-recorder"/>
            <service id="eval" type="rule"/>
            """, wires: "<wire from=\"rec.readings\" to=\"eval.readings\"/>"))
        #expect(found == [
            "test.xml:4:1: error: service 'reg' (supporter-registry) takes no rules; only rule components such as event-evaluator and rule do",
            "test.xml:7:1: error: service 'eval' (rule) declares no <rule>; it needs at least one",
        ])
    }

    @Test func ruleProblemsTheSchemaCannotSeeAreReportedOnce() {
        let found = problems(document(services: """
            <service id="rec" type="sensor-recorder"/>
            <service id="eval" type="rule">
            <rule id="a" alarm="fire"><threshold kind="smoke" above="1" below="2"/></rule>
            <rule id="a" alarm="fire"><count kind="smoke" above="1" sensors="2" within="0s"/></rule>
            </service>
            """, wires: "<wire from=\"rec.readings\" to=\"eval.readings\"/>"))
        #expect(found == [
            "test.xml:5:1: error: service 'eval': rule 'a': <threshold> needs exactly one of above, below or equals, not 2",
            "test.xml:6:1: error: service 'eval': rule 'a': within=\"0s\" is not a duration longer than 0 (e.g. 30s)",
        ])
    }

    @Test func duplicateRuleAndWireIDs() {
        let found = problems(document(services: """
            <service id="rec" type="sensor-recorder"/>
            <service id="eval" type="rule">
            <rule id="a" alarm="fire"><threshold above="1"/></rule>
            <rule id="a" alarm="fire"><threshold below="1"/></rule>
            </service>
            """, wires: """
            <wire id="w" from="rec.readings" to="eval.readings"/>
            <wire id="w" from="rec.readings" to="eval.readings"/>
            """))
        #expect(found == [
            "test.xml:6:1: error: service 'eval': rule id 'a' is already used on line 5",
            "test.xml:11:1: error: wire id 'w' is already used on line 10",
            "test.xml:11:1: error: wire rec.readings → eval.readings duplicates the wire on line 10",
        ])
    }

    @Test func constraintsOnUnknownServicesAndEmptyTimeWindows() {
        let found = problems(document(
            services: "<service id=\"reg\" type=\"supporter-registry\"/>",
            constraints: """
                <constraint service="ghost">
                <time-window days="mon mon" from="10:00" to="10:00"/>
                <where/>
                </constraint>
                """))
        #expect(found == [
            "test.xml:6:1: error: constraint names service 'ghost', which is not in this composition",
            "test.xml:7:1: error: the time window 10:00 to 10:00 is empty",
            "test.xml:8:1: error: <where> needs exactly one of peer=\"…\" or area=\"…\", not empty",
        ])
    }

    @Test func everyProblemIsReportedInOneRunInLineOrder() {
        let found = problems(document(services: """
            <service id="x" type="nope"/>
            <service id="x" type="supporter-registry"/>
            <service id="fwd" type="sensor-forwarder"><param name="destination">mailto:a@b</param></service>
            """, wires: "<wire from=\"fwd.readings\" to=\"fwd.requests\"/>"))
        #expect(found.map { $0.split(separator: ":")[1] } == ["3", "4", "5", "8", "8"], "\(found)")
    }

    @Test func aLongChainOfServicesIsCheckedWithoutExhaustingTheStack() {
        let count = 3000
        let services = (0..<count).map { "<service id=\"r\($0)\" type=\"sensor-recorder\"/>" }.joined(separator: "\n")
        let wires = (0..<count).map {
            "<wire from=\"r\($0).readings\" to=\"r\(($0 + 1) % count).readings\"/>"
        }.joined(separator: "\n")
        let found = problems(document(services: services, wires: wires))
        #expect(found.count == 1)
        #expect(found.first?.contains("closes the cycle r0 → r1 → r2") == true)
    }
}
