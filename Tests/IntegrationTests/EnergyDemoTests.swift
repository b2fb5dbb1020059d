import Foundation
import Testing

/// `smf demo energy` through the built binary.
@Suite struct EnergyDemoTests {
    /// The table's numbers by strategy label (columns are separated by two or more spaces).
    func table(_ output: String) -> [String: [Double]] {
        var rows: [String: [Double]] = [:]
        for line in output.split(separator: "\n").map(String.init) {
            let cells = line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard cells.count == 6, ["no coordination", "each household alone", "community"].contains(cells[0]) else { continue }
            let numbers = cells.dropFirst().compactMap(Double.init)
            if numbers.count == 5 { rows[cells[0]] = numbers }
        }
        return rows
    }

    @Test func energyDemoPrintsAPlotAndATableWhereTheCommunityPeakIsBelowEachHouseholdAlone() async throws {
        let result = try await runTool(smfBinary(), ["demo", "energy", "--households", "50", "--seed", "7"], timeout: .seconds(120))
        #expect(result.status == 0, "output:\n\(result.output)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 100 }, "a line is wider than 100 columns")
        #expect(result.output.contains("# community"))
        let rows = table(result.output)
        let alone = try #require(rows["each household alone"], "no 'each household alone' row in:\n\(result.output)")
        let community = try #require(rows["community"], "no 'community' row in:\n\(result.output)")
        #expect(community[0] < alone[0])
        #expect(community[1] > 0)
        #expect(alone[1] == 0)
        #expect(result.output.contains("deadlines met: "))
        #expect(result.output.contains("0 rejected"))
    }

    @Test func energyDemoIsReproducibleFromItsSeed() async throws {
        let first = try await runTool(smfBinary(), ["demo", "energy", "--households", "12", "--seed", "3", "--no-plot"])
        let second = try await runTool(smfBinary(), ["demo", "energy", "--households", "12", "--seed", "3", "--no-plot"])
        let other = try await runTool(smfBinary(), ["demo", "energy", "--households", "12", "--seed", "4", "--no-plot"])
        #expect(first.status == 0 && second.status == 0 && other.status == 0)
        #expect(first.output == second.output)
        #expect(table(first.output) != table(other.output))
    }

    @Test func energyDemoRunsTheCommunityThroughTheServiceComponentsToTheSamePlan() async throws {
        let result = try await runTool(smfBinary(), ["demo", "energy", "--households", "20", "--seed", "2", "--no-plot", "--components"])
        #expect(result.status == 0, "output:\n\(result.output)")
        let line = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("components run: ") }, "no components line in:\n\(result.output)")
        #expect(line.hasSuffix("0 refused; same plan as the protocol run: yes"))
        let deadlines = result.output.split(separator: "\n").filter { $0.contains("deadlines met: ") }
        #expect(deadlines.count == 2)
        for line in deadlines {
            let counts = line.split(separator: " ").last?.split(separator: "/") ?? []
            #expect(counts.count == 2 && counts[0] == counts[1], "\(line)")
        }
    }
}
