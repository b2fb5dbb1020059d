import Testing

@testable import Rules

private func reading(
    _ sensor: String, _ kind: String, _ value: Double, at seconds: Int, building: String = "B1"
) -> RuleReading {
    RuleReading(sensorID: sensor, building: building, kind: kind, value: value, time: .seconds(seconds))
}

private let smoke = RuleSelector(kind: "smoke")
private let temperature = RuleSelector(kind: "temperature")

@Suite struct RuleEvaluatorTests {
    @Test func thresholdFiresOnceWhenTheLatestValueCrossesAndRearmsAfterItDrops() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(id: "hot", alarmKind: "fire", severity: .major, condition: .threshold(temperature, .above(60)))
        ])
        #expect(evaluator.ingest(reading("t1", "temperature", 59, at: 0)).isEmpty)
        let fired = evaluator.ingest(reading("t1", "temperature", 61, at: 1))
        #expect(fired.count == 1)
        #expect(fired.first?.alarmKind == "fire")
        #expect(fired.first?.severity == .major)
        #expect(fired.first?.building == "B1")
        #expect(fired.first?.readings == [reading("t1", "temperature", 61, at: 1)])
        #expect(evaluator.ingest(reading("t1", "temperature", 65, at: 2)).isEmpty, "still true: no second alarm")
        #expect(evaluator.ingest(reading("t1", "temperature", 20, at: 3)).isEmpty)
        #expect(evaluator.ingest(reading("t1", "temperature", 70, at: 4)).count == 1, "re-armed after dropping")
    }

    @Test func thresholdComparisonsAreStrictAboveBelowAndExactEqual() {
        #expect(RuleComparison.above(1).matches(1.5))
        #expect(!RuleComparison.above(1).matches(1))
        #expect(RuleComparison.below(1).matches(0.5))
        #expect(!RuleComparison.below(1).matches(1))
        #expect(RuleComparison.equal(1).matches(1))
        #expect(!RuleComparison.equal(1).matches(0))
    }

    @Test func twoSensorsOfTheSameBuildingWithinTheWindowFireButOneSensorTwiceDoesNot() throws {
        let rule = Rule(
            id: "fire", alarmKind: "fire", severity: .critical,
            condition: .count(smoke, .above(0.3), sensors: 2, within: .seconds(60)))
        var evaluator = try RuleEvaluator(rules: [rule])
        #expect(evaluator.ingest(reading("s1", "smoke", 0.5, at: 0)).isEmpty)
        #expect(evaluator.ingest(reading("s1", "smoke", 0.6, at: 10)).isEmpty, "one sensor twice is not two sensors")
        #expect(evaluator.ingest(reading("s2", "smoke", 0.4, at: 20, building: "B2")).isEmpty, "other building")
        let fired = evaluator.ingest(reading("s2", "smoke", 0.4, at: 30))
        #expect(fired.map(\.ruleID) == ["fire"])
        #expect(fired.first?.readings.map(\.sensorID) == ["s1", "s2"])
        #expect(fired.first?.time == .seconds(30))
    }

    @Test func twoSensorsFurtherApartThanTheWindowDoNotFire() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(
                id: "fire", alarmKind: "fire", severity: .critical,
                condition: .count(smoke, .above(0.3), sensors: 2, within: .seconds(60)))
        ])
        #expect(evaluator.ingest(reading("s1", "smoke", 0.5, at: 0)).isEmpty)
        #expect(evaluator.ingest(reading("s2", "smoke", 0.5, at: 61)).isEmpty)
        #expect(evaluator.ingest(reading("s1", "smoke", 0.5, at: 70)).count == 1)
    }

    @Test func sustainedFiresWhenTimeAdvancesPastTheDurationWithoutANewReading() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(
                id: "heat", alarmKind: "fire", severity: .major,
                condition: .sustained(temperature, .above(60), for: .seconds(30)))
        ])
        #expect(evaluator.ingest(reading("t1", "temperature", 70, at: 100)).isEmpty)
        #expect(evaluator.advance(to: .seconds(129)).isEmpty)
        let fired = evaluator.advance(to: .seconds(130))
        #expect(fired.count == 1)
        #expect(fired.first?.readings == [reading("t1", "temperature", 70, at: 100)])
    }

    @Test func sustainedIsResetByAReadingBelowTheThreshold() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(
                id: "heat", alarmKind: "fire", severity: .major,
                condition: .sustained(temperature, .above(60), for: .seconds(30)))
        ])
        _ = evaluator.ingest(reading("t1", "temperature", 70, at: 0))
        _ = evaluator.ingest(reading("t1", "temperature", 50, at: 20))
        #expect(evaluator.ingest(reading("t1", "temperature", 70, at: 25)).isEmpty)
        #expect(evaluator.advance(to: .seconds(54)).isEmpty, "the run restarted at 25 s")
        #expect(evaluator.advance(to: .seconds(55)).count == 1)
    }

    @Test func sustainedKeepsTheReadingThatOpenedTheWindowWhenReadingsAreSparse() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(
                id: "heat", alarmKind: "fire", severity: .major,
                condition: .sustained(temperature, .above(60), for: .seconds(30)))
        ])
        _ = evaluator.ingest(reading("t1", "temperature", 70, at: 0))
        let fired = evaluator.ingest(reading("t1", "temperature", 71, at: 45))
        #expect(fired.count == 1, "70 at 0 s and 71 at 45 s: above 60 for 45 s")
        #expect(fired.first?.readings.count == 2)
    }

    @Test func allAnyAndNotCombineConditions() throws {
        let intrusion = Rule(
            id: "intrusion", alarmKind: "intrusion", severity: .major,
            condition: .all([
                .any([
                    .threshold(RuleSelector(kind: "door"), .equal(1)),
                    .threshold(RuleSelector(kind: "glass"), .equal(1)),
                ]),
                .not(.threshold(RuleSelector(kind: "armed"), .equal(0))),
            ]))
        var evaluator = try RuleEvaluator(rules: [intrusion])
        #expect(evaluator.ingest(reading("alarm-panel", "armed", 0, at: 0)).isEmpty)
        #expect(evaluator.ingest(reading("door-1", "door", 1, at: 1)).isEmpty, "disarmed")
        let fired = evaluator.ingest(reading("alarm-panel", "armed", 1, at: 2))
        #expect(fired.map(\.alarmKind) == ["intrusion"])
        #expect(fired.first?.readings.map(\.sensorID) == ["door-1"], "not() contributes no readings")
    }

    @Test func emptyAllHoldsAndEmptyAnyDoesNot() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(id: "always", alarmKind: "test", severity: .info, condition: .all([])),
            Rule(id: "never", alarmKind: "test", severity: .info, condition: .any([])),
        ])
        #expect(evaluator.ingest(reading("x", "k", 0, at: 0)).map(\.ruleID) == ["always"])
    }

    @Test func selectorBySensorIDIgnoresOtherSensorsOfTheSameKind() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(
                id: "kitchen", alarmKind: "fire", severity: .minor,
                condition: .threshold(RuleSelector(kind: "smoke", sensorID: "kitchen"), .above(0.3)))
        ])
        #expect(evaluator.ingest(reading("hall", "smoke", 0.9, at: 0)).isEmpty)
        #expect(evaluator.ingest(reading("kitchen", "smoke", 0.9, at: 1)).count == 1)
    }

    @Test func rulesFireIndependentlyPerBuilding() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(id: "hot", alarmKind: "fire", severity: .major, condition: .threshold(temperature, .above(60)))
        ])
        #expect(evaluator.ingest(reading("a", "temperature", 80, at: 0, building: "B1")).map(\.building) == ["B1"])
        #expect(evaluator.ingest(reading("b", "temperature", 80, at: 1, building: "B2")).map(\.building) == ["B2"])
        #expect(evaluator.buildings == ["B1", "B2"])
    }

    @Test func anOutOfOrderReadingIsPlacedByItsTimeNotItsArrival() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(id: "hot", alarmKind: "fire", severity: .major, condition: .threshold(temperature, .above(60)))
        ])
        _ = evaluator.ingest(reading("t1", "temperature", 20, at: 10))
        #expect(evaluator.ingest(reading("t1", "temperature", 90, at: 5)).isEmpty, "older than the current value")
        #expect(evaluator.now == .seconds(10))
    }

    @Test func nonFiniteValuesAreIgnored() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(id: "low", alarmKind: "cold", severity: .info, condition: .not(.threshold(temperature, .above(0))))
        ])
        _ = evaluator.ingest(reading("t1", "temperature", 5, at: 0))
        #expect(evaluator.ingest(reading("t1", "temperature", .nan, at: 1)).isEmpty)
        #expect(evaluator.ingest(reading("t1", "temperature", -.infinity, at: 2)).isEmpty)
    }

    @Test func historyIsBoundedPerSensor() throws {
        var configuration = RuleEvaluator.Configuration()
        configuration.maxReadingsPerSensor = 3
        var evaluator = try RuleEvaluator(
            rules: [
                Rule(
                    id: "busy", alarmKind: "test", severity: .info,
                    condition: .count(smoke, .above(0), sensors: 1, within: .seconds(3600)))
            ], configuration: configuration)
        var fired: [RuleEvent] = []
        for second in 0..<100 { fired += evaluator.ingest(reading("s", "smoke", 1, at: second)) }
        #expect(fired.count == 1)
    }

    @Test func aLongStreamKeepsOnlyTheWindowAndRaisesOneAlarmPerEpisode() throws {
        var evaluator = try RuleEvaluator(rules: [
            Rule(
                id: "fire", alarmKind: "fire", severity: .critical,
                condition: .count(smoke, .above(0.3), sensors: 2, within: .seconds(60)))
        ])
        var fired: [RuleEvent] = []
        // 10 sensors, each reading once a second (one every 100 ms in turn) for 500 s; smoke from 250 s on.
        for index in 0..<5_000 {
            let time = Duration.milliseconds(index * 100)
            let value = time >= .seconds(250) ? 0.9 : 0.1
            fired += evaluator.ingest(
                RuleReading(sensorID: "s\(index % 10)", building: "B1", kind: "smoke", value: value, time: time))
        }
        #expect(fired.map(\.time) == [.milliseconds(250_100)], "the second sensor with smoke fires, once")
        #expect(evaluator.storedReadingCount <= 600 + 10, "a 60 s window of 10 readings/s, plus one per sensor")
    }

    @Test func unsoundRulesAreRejectedWithTheReason() {
        #expect(throws: RuleError(ruleID: "bad", message: "count needs at least 1 sensor, not 0")) {
            try RuleEvaluator(rules: [
                Rule(
                    id: "bad", alarmKind: "fire", severity: .info,
                    condition: .count(smoke, .above(1), sensors: 0, within: .seconds(1)))
            ])
        }
        #expect(throws: RuleError(ruleID: "twice", message: "the rule id is used twice")) {
            let rule = Rule(id: "twice", alarmKind: "x", severity: .info, condition: .all([]))
            return try RuleEvaluator(rules: [rule, rule])
        }
        let sustained = Rule(
            id: "s", alarmKind: "x", severity: .info, condition: .sustained(smoke, .above(.infinity), for: .zero))
        #expect(sustained.problems().count == 2)
    }

    @Test func horizonIsTheLongestWindowOfAnyNestedCondition() {
        let condition = RuleCondition.any([
            .count(smoke, .above(0), sensors: 1, within: .seconds(60)),
            .not(.sustained(temperature, .above(1), for: .seconds(90))),
        ])
        #expect(condition.horizon == .seconds(90))
    }
}
