import Composition
import Energy
import Foundation
import Testing

/// What the energy process tests (docs/energy.md, "On real nodes") need besides the `smf run` nodes: the
/// composition it deploys, and what the nodes' logs say happened. The flexibility services log one
/// `energy: load started` line per load (household, load, interval) and one `energy: day over` line per day; the
/// coordinators log `energy: coordinator leads` when they take the lead.
enum EnergyProcessSupport {
    /// The three-node feeder with its day starting at `dayStart` and `timeScale` (960: a day in 90 s).
    static func composition(dayStart: Date, timeScale: Int = 960, households: Int = 50, nodes: [String], coordinatorNodes: [String]) -> String {
        var builder = EnergyCompositionBuilder(households: households, nodes: nodes, coordinatorNodes: coordinatorNodes)
        builder.timeScale = "\(timeScale)"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        builder.dayStart = formatter.string(from: Date(timeIntervalSince1970: dayStart.timeIntervalSince1970.rounded(.up)))
        return builder.xml()
    }

    /// The metadata of every log line whose message is `message`, from `smf run`'s standard error
    /// (`TIME LEVEL LABEL : key=value key=value [MODULE] MESSAGE`).
    static func logged(_ message: String, in text: String) -> [[String: String]] {
        text.split(separator: "\n").filter { $0.hasSuffix(" " + message) }.map { line in
            var fields: [String: String] = [:]
            for token in line.split(separator: " ") {
                guard let equals = token.firstIndex(of: "=") else { continue }
                fields[String(token[..<equals])] = String(token[token.index(after: equals)...])
            }
            return fields
        }
    }

    /// Start interval of every load the logs say started on `day`.
    static func loadStarts(in text: String, day: Int = 0) -> [String: Int] {
        var starts: [String: Int] = [:]
        for fields in logged("energy: load started", in: text) where fields["energy.day"] == "\(day)" {
            if let load = fields["energy.load"], let interval = fields["energy.interval"].flatMap(Int.init) { starts[load] = interval }
        }
        return starts
    }
}

@Suite struct EnergyProcessSupportTests {
    @Test func loadStartsAreReadFromTheLinesAFlexibilityServiceLogs() {
        let text = """
            2026-12-07T10:00:01+0000 info smf : energy.day=0 energy.household=h001 energy.interval=52 energy.load=h001.ev sdp.app=feeder-7-energy sdp.service=flex-node-a [Energy] energy: load started
            2026-12-07T10:00:01+0000 info smf : energy.day=1 energy.household=h001 energy.interval=50 energy.load=h001.ev [Energy] energy: load started
            2026-12-07T10:00:02+0000 info smf : energy.day=0 energy.household=h002 energy.interval=7 energy.load=h002.washing-machine [Energy] energy: load started
            2026-12-07T10:00:03+0000 info smf : energy.coordinator=0002.coordinator-2 [Energy] energy: coordinator leads
            """
        #expect(EnergyProcessSupport.loadStarts(in: text) == ["h001.ev": 52, "h002.washing-machine": 7])
        #expect(EnergyProcessSupport.logged("energy: coordinator leads", in: text).map { $0["energy.coordinator"] } == ["0002.coordinator-2"])
    }

    @Test func theProcessTestsCompositionIsValidAndStartsOnAWholeSecond() throws {
        let text = EnergyProcessSupport.composition(
            dayStart: Date(timeIntervalSince1970: 1_750_485_599.2), nodes: ["node-a", "node-b", "node-c"], coordinatorNodes: ["node-b", "node-c"])
        #expect(text.contains("<param name=\"day-start\">2025-06-21T06:00:00Z</param>"))
        #expect(text.contains("<param name=\"time-scale\">960</param>"))
        #expect(CompositionLoader().load(bytes: Array(text.utf8), fileName: "energy.xml").diagnostics.map(\.description) == [])
    }
}
