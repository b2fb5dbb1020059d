import Composition
import SIPSyntax
import Testing

@testable import ServicePlatform

func value(_ id: String, _ attributes: [String: String] = [:]) -> ServiceValue {
    ServiceValue(id: id, contentType: "text/plain", text: id, attributes: attributes)
}

@Suite struct ServiceOutboxTests {
    @Test func valuesGetIncreasingSequenceNumbersAndAnIdWaitingAlreadyIsNotAddedTwice() {
        var outbox = ServiceOutbox()
        let a = outbox.append(value("a"))
        let b = outbox.append(value("b"))
        let again = outbox.append(value("a"))
        #expect(a == (1, true))
        #expect(b == (2, true))
        #expect(again == (1, false))
        #expect(outbox.entries.map(\.sequence) == [1, 2])
        #expect(outbox.lastSequence == 2)
    }

    @Test func aBatchTakesUpToTheLimitAfterTheCursorAndSkipsWhatTheFiltersDoNotPass() {
        var outbox = ServiceOutbox()
        for index in 1...6 { outbox.append(value("v\(index)", ["building": index % 2 == 0 ? "b2" : "b1"])) }
        let filters = [WireFilter(name: "building", value: "b2")]

        let first = outbox.batch(after: 0, filters: filters, limit: 2)
        #expect(first.entries.map(\.value.id) == ["v2", "v4"])
        #expect(first.through == 5)  // v5 is filtered out for this wire: the cursor may pass it
        let second = outbox.batch(after: first.through, filters: filters, limit: 2)
        #expect(second.entries.map(\.value.id) == ["v6"])
        #expect(second.through == 6)
        #expect(outbox.batch(after: 6, filters: filters, limit: 2).entries.isEmpty)
        #expect(outbox.pendingCount(after: 2, filters: filters) == 2)

        // Everything after the cursor filtered out: no values, but the cursor may move past them.
        var odd = ServiceOutbox()
        odd.append(value("x", ["building": "b1"]))
        let skipped = odd.batch(after: 0, filters: filters, limit: 8)
        #expect(skipped.entries.isEmpty)
        #expect(skipped.through == 1)
    }

    @Test func pruningDropsWhatTheSlowestWireAcknowledgedAndKeepsNumbersGoingUp() {
        var outbox = ServiceOutbox()
        for index in 1...4 { outbox.append(value("v\(index)")) }
        let pruned = outbox.prune(through: 2)
        #expect(pruned)
        #expect(outbox.entries.map(\.sequence) == [3, 4])
        let prunedAgain = outbox.prune(through: 2)
        #expect(!prunedAgain)
        // A pruned id may come again (a late duplicate): it is a new value with a new number.
        let late = outbox.append(value("v1"))
        #expect(late == (5, true))

        let restored = ServiceOutbox(restoring: outbox.entries.reversed(), lastSequence: 9)
        #expect(restored.entries.map(\.sequence) == [3, 4, 5])
        #expect(restored.lastSequence == 9)
    }
}

@Suite struct ServiceInputLogTests {
    @Test func theLogDropsDuplicatesAndForgetsTheOldestBeyondItsCapacity() {
        var log = ServiceInputLog(capacity: 3)
        let first = log.insert("a")
        let again = log.insert("a")
        #expect(first)
        #expect(!again)
        for id in ["b", "c", "d"] { log.insert(id) }
        #expect(!log.contains("a"))
        #expect(log.ids == ["b", "c", "d"])
        #expect(log.count == 3)
        for index in 0..<20 { log.insert("x\(index)") }
        #expect(log.ids == ["x17", "x18", "x19"])

        let restored = ServiceInputLog(capacity: 3, ids: ["p", "q"])
        #expect(restored.contains("q"))
    }

    @Test func derivedIDsAreTheSameForTheSameInputAndDifferPerEmission() {
        #expect(derivedValueID(inputID: "app.src.7", service: "mid", index: 0) == derivedValueID(inputID: "app.src.7", service: "mid", index: 0))
        #expect(derivedValueID(inputID: "app.src.7", service: "mid", index: 0) != derivedValueID(inputID: "app.src.7", service: "mid", index: 1))
        #expect(derivedValueID(inputID: "app.src.7", service: "mid", index: 0) != derivedValueID(inputID: "app.src.7", service: "other", index: 0))
    }
}

@Suite struct ServicePlacementChooserTests {
    let candidates = [
        ServicePlacementChooser.Candidate(host: "sip:b@h:2", capacity: 10),
        ServicePlacementChooser.Candidate(host: "sip:a@h:1", capacity: 10),
        ServicePlacementChooser.Candidate(host: "sip:c@h:3", capacity: 50),
    ]

    @Test func theLiveProviderWithTheMostCapacityIsChosen() {
        #expect(ServicePlacementChooser.choose(from: candidates, live: ["sip:a@h:1", "sip:b@h:2", "sip:c@h:3"]) == "sip:c@h:3")
    }

    @Test func deadAndExcludedProvidersAreNeverChosen() {
        #expect(ServicePlacementChooser.choose(from: candidates, live: ["sip:a@h:1", "sip:b@h:2"]) == "sip:a@h:1")
        #expect(ServicePlacementChooser.choose(from: candidates, live: ["sip:a@h:1", "sip:b@h:2"], excluded: ["sip:a@h:1"]) == "sip:b@h:2")
        #expect(ServicePlacementChooser.choose(from: candidates, live: []) == nil)
    }

    @Test func atEqualCapacityTheHostWithFewerInstancesOfTheApplicationWins() {
        let live: Set = ["sip:a@h:1", "sip:b@h:2"]
        #expect(ServicePlacementChooser.choose(from: candidates, live: live, placedCounts: ["sip:a@h:1": 2]) == "sip:b@h:2")
    }
}

@Suite struct ServiceRevisionDecisionTests {
    func deployment(_ revision: Int, _ host: String = "sip:a@h:1") -> ServiceDeployment {
        ServiceDeployment(application: "app", revision: revision, deployer: "sip:d@h:9", fileName: "app.xml", composition: "<x/>", placements: ["s": host])
    }

    @Test func aNewerRevisionIsAppliedTheSameAgainChangesNothingAndAnOlderOneIsRefused() {
        #expect(ServiceRevisionDecision.decide(deployment(1), stored: nil) == .apply)
        #expect(ServiceRevisionDecision.decide(deployment(2), stored: deployment(1)) == .apply)
        #expect(ServiceRevisionDecision.decide(deployment(2), stored: deployment(2)) == .unchanged)
        #expect(ServiceRevisionDecision.decide(deployment(1), stored: deployment(2)) == .stale)
        #expect(ServiceRevisionDecision.decide(deployment(2, "sip:b@h:2"), stored: deployment(2)) == .stale)
    }
}

@Suite struct ServiceAddressingTests {
    @Test func instanceWireAndApplicationURIsNameTheNodeAndParseBack() throws {
        let host = try #require(SIPURI("sip:bob@127.0.0.1:5072"))
        #expect(ServiceAddressing.instanceURI(application: "app", service: "mid", host: host).description == "sip:app.mid@127.0.0.1:5072")
        #expect(ServiceAddressing.wireResourceURI(application: "app", service: "mid", wire: "w2", host: host).description == "sip:app.mid.w2@127.0.0.1:5072")
        #expect(ServiceAddressing.applicationURI(application: "app", host: host).description == "sip:app@127.0.0.1:5072")
        #expect(ServiceAddressing.instance(ofUser: "app.mid")! == ("app", "mid"))
        #expect(ServiceAddressing.instance(ofUser: "smf") == nil)
        #expect(ServiceAddressing.instance(ofUser: "a.b.c") == nil)
        #expect(ServiceAddressing.wireResource(ofUser: "app.mid.w2")! == ("app", "mid", "w2"))
    }
}

@Suite struct ProbeTallyTests {
    @Test func theTallyCountsDistinctNumbersGapsAndRepeats() {
        var tally = ProbeTally()
        for number in [1, 2, 3, 5, 4, 4, 9] { tally.insert(number) }
        #expect(tally.count == 6)
        #expect(tally.highest == 9)
        #expect(tally.missing == 3)
        #expect(tally.repeated == 1)
        #expect(tally.ranges == [[1, 5], [9, 9]])
    }
}
